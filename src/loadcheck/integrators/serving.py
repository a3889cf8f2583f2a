"""What the Triton repository builder needs: the fitted versions and the one to serve."""

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


def fitted_versions(
    name: str, home: Path | str | None = None, repository: Path | str | None = None
) -> list[int]:
    """All fitted version numbers of ``name``, ascending."""
    store = IntegratorStore(home, repository)
    store.get(name)
    with store.ws.reader() as conn:
        rows = conn.execute(
            "SELECT version FROM versions WHERE integrator = ? ORDER BY version", (name,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def served_artifact_dir(
    name: str, home: Path | str | None = None, repository: Path | str | None = None
) -> Path | None:
    """``<repository>/scorer_<name>/<served version>``, or None when nothing is fitted."""
    store = IntegratorStore(home, repository)
    version = store.get(name).served_version
    return None if version is None else store.model_dir(name) / str(version)


def integrator_names(home: Path | str | None = None) -> list[str]:
    return [row["name"] for row in IntegratorStore(home).list_all()]
