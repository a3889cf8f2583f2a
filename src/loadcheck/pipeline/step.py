"""``Step``: one stage of the pipeline as an object — settings, declared tensors, a pure call.

A step is what Triton serves as one model and what the in-process runner calls. Its
:attr:`~Step.inputs` and :attr:`~Step.outputs` are :class:`~loadcheck.pipeline.tensors.TensorSpec`
tuples (the ``config.pbtxt`` is generated from them, ensembles are wired by their names);
calling it checks the inputs against them and runs :meth:`Step.compute`, a pure function from
arrays to arrays. A request's bad input raises :class:`StepInputError`, which the Triton adapter
turns into an ``INVALID_ARG`` error for that request alone.

Steps are built from their settings (:meth:`Step.load`, by the adapter inside Triton and by the
runner in-process), so both run the same object with the same parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.tensors import TensorSpec, TensorSpecError

Arrays = dict[str, np.ndarray]


class StepInputError(ValueError):
    """A request's input is unacceptable; ``str()`` names the input and the reason."""


@dataclass(frozen=True)
class StepContext:
    """Where a step is loaded: what the adapter (or the runner) knows besides the settings.

    Attributes:
        name: the model name (``detector``, ``scorer_site_a``...).
        version_dir: the model's version folder (network files, score models), if any.
        device: ``"cpu"`` or ``"cuda:N"``.
        inputs / outputs: tensors as the model's config declares them (full shapes, the batch
            axis first when the model batches); network steps take their contract from here.
        batching: whether Triton batches requests of this model (``max_batch_size > 0``).
    """

    name: str
    version_dir: Path | None = None
    device: str = "cpu"
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    batching: bool = False


class Step(ABC):
    """Base of every pipeline step (see the module docstring).

    Subclasses set :attr:`kind` (the registry key, written as the ``step`` parameter of the
    model's config) and :attr:`settings_type`, and implement :attr:`inputs`, :attr:`outputs`
    and :meth:`compute`.
    """

    kind: ClassVar[str]
    settings_type: ClassVar[type[StepSettings]]
    #: Whether the requests of one Triton ``execute`` call may run as one batch (networks).
    batchable: ClassVar[bool] = False

    def __init__(self, name: str, settings: StepSettings) -> None:
        if not isinstance(settings, self.settings_type):
            raise TypeError(
                f"{type(self).__name__}: expected {self.settings_type.__name__}, "
                f"got {type(settings).__name__}"
            )
        self.name = name
        self.settings = settings

    @classmethod
    def load(cls, settings: StepSettings, context: StepContext) -> Self:
        """The step as Triton (or the runner) loads it; networks override this to open files."""
        return cls(context.name, settings)

    @property
    @abstractmethod
    def inputs(self) -> tuple[TensorSpec, ...]:
        """Input tensors, full shapes."""

    @property
    @abstractmethod
    def outputs(self) -> tuple[TensorSpec, ...]:
        """Output tensors, full shapes."""

    @abstractmethod
    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        """The step's pure function; ``feeds`` have been checked against :attr:`inputs`."""

    def check(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        """The declared inputs of ``feeds``, each checked for dtype and shape."""
        out: Arrays = {}
        for spec in self.inputs:
            value = feeds.get(spec.name)
            if value is None:
                if spec.optional:
                    continue
                raise StepInputError(f"input {spec.name!r}: missing")
            try:
                out[spec.name] = spec.check(value)
            except TensorSpecError as exc:
                raise StepInputError(str(exc)) from None
        return out

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        """Check ``feeds`` against :attr:`inputs`, then :meth:`compute`."""
        return self.compute(self.check(feeds))

    def run_batch(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[Arrays]:
        """One output dict per request; a batchable step overrides this to run them at once."""
        return [self(feeds) for feeds in requests]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.settings!r})"
