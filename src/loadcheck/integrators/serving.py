"""What the Triton repository builder needs from the workspace: the version to serve."""

from __future__ import annotations

from pathlib import Path

from loadcheck.integrators.store import IntegratorStore


def served_version(
    name: str, home: Path | str | None = None, repository: Path | str | None = None
) -> int | None:
    """The version of ``scorer_<name>`` to serve (latest fit, or what rollback set); None if unfit.

    Raises ``NotFoundError`` for an unknown integrator.
    """
    return IntegratorStore(home, repository).get(name).served_version
