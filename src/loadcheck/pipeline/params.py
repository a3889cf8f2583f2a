"""``StepSettings``: a step's typed settings and their ``config.pbtxt`` string parameters.

Triton hands a Python model its parameters as strings. Each step declares its settings once, as a
frozen dataclass deriving from :class:`StepSettings`; :meth:`~StepSettings.to_params` writes them
(the repository builder) and :meth:`~StepSettings.from_params` reads them back (the Triton
adapter, the in-process runner), by the fields' types: ``int``, ``float``, ``str``, ``bool``,
``StrEnum`` subclasses and tuples of ``int``. A field with its own text form names a codec in its
metadata (``field(metadata={"codec": Codec(format, parse)})``). A parameter a repository written
by an older loadcheck lacks takes ``metadata["missing"]`` when given, else the field's default.
Every parsed value goes through the dataclass's own validation (``__post_init__``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self


class ParamsError(ValueError):
    """A parameter is missing or does not parse; the message names it and what is expected."""


@dataclass(frozen=True)
class Codec:
    """A field's own text form: ``format(value) -> str`` and ``parse(str) -> value``."""

    format: Callable[[Any], str]
    parse: Callable[[str], Any]


def _format(value: Any, kind: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _parse(text: str, kind: Any, name: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if text == "" and len(options) < len(typing.get_args(kind)):
            return None
        kind = options[0]
        origin = typing.get_origin(kind)
    if origin is tuple:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ParamsError(f"expected comma-separated integers, got {text!r}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(text)
        except ValueError:
            choices = [m.value for m in kind]
            raise ParamsError(f"expected one of {choices}, got {text!r}") from None
    if kind is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ParamsError(f"expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ParamsError(f"expected an integer, got {text!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ParamsError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ParamsError(f"expected a finite number, got {text!r}")
        return value
    if kind is str:
        return text
    raise TypeError(f"{name}: no parameter codec for type {kind!r}; give the field a Codec")


@dataclass(frozen=True)
class StepSettings:
    """Base of every step's settings (a frozen dataclass; see the module docstring)."""

    def to_params(self) -> dict[str, str]:
        """``{parameter: text}`` for ``config.pbtxt``."""
        hints = typing.get_type_hints(type(self))
        out: dict[str, str] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            codec = item.metadata.get("codec")
            if value is None:
                out[item.name] = ""
            elif codec is not None:
                out[item.name] = codec.format(value)
            else:
                out[item.name] = _format(value, hints[item.name])
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Self:
        """The settings written by :meth:`to_params`; :class:`ParamsError` names a bad one."""
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            if not item.init:
                continue
            if item.name not in params:
                if "missing" in item.metadata:
                    values[item.name] = item.metadata["missing"]
                    continue
                if (
                    item.default is dataclasses.MISSING
                    and item.default_factory is dataclasses.MISSING
                ):
                    raise ParamsError(f"{cls.__name__}: parameter {item.name!r} is missing")
                continue
            text = str(params[item.name])
            codec = item.metadata.get("codec")
            try:
                if codec is not None:
                    values[item.name] = codec.parse(text)
                else:
                    values[item.name] = _parse(text, hints[item.name], item.name)
            except (ParamsError, ValueError) as exc:
                raise ParamsError(f"parameter {item.name!r}: {exc}") from None
        try:
            return cls(**values)
        except ValueError as exc:
            raise ParamsError(f"{cls.__name__}: {exc}") from None
