"""Errors of integrator operations; the CLI turns each into a message and a non-zero exit."""

from __future__ import annotations

import re


class IntegratorError(ValueError):
    """An integrator operation cannot proceed (the message says what is wrong and what to do)."""


class NotFoundError(IntegratorError):
    """The named integrator or version does not exist."""


class IngestError(IntegratorError):
    """A fitting-data archive or image is unusable; nothing was written."""


NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")


def validate_name(name: str) -> str:
    """Integrator names become Triton model names (``scorer_<name>``) and folder names."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise IntegratorError(
            f"invalid integrator name {name!r}: expected 1-48 characters of lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit (e.g. site-a_north)"
        )
    return name
