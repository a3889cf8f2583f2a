"""Default locations: the workspace (``$LOADCHECK_HOME``) and the model repository
(``$LOADCHECK_REPOSITORY``), both declared in :mod:`loadcheck.environment`."""

from __future__ import annotations

from pathlib import Path

from loadcheck.environment import HOME, REPOSITORY

#: Where fitted score models go when the repository is on object storage (inside the workspace).
FITTED_FOLDER = "fitted_models"


def default_home() -> Path:
    """``$LOADCHECK_HOME`` or ``./workspace``."""
    return Path(HOME.get_text())


def repository_location() -> str:
    """``$LOADCHECK_REPOSITORY`` as written: a folder or ``s3://bucket/prefix``
    (:func:`loadcheck.serving.storage.open_repository` opens it)."""
    return REPOSITORY.get_text()


def default_repository() -> Path:
    """``$LOADCHECK_REPOSITORY`` or ``./model_repository`` as a folder (a local repository)."""
    return Path(REPOSITORY.get_text())


def fitted_models_folder(repository: Path | str, home: Path | str | None = None) -> Path:
    """The folder integrator fits write their versions into (``scorer_<name>/<version>/``).

    A local repository holds them itself (Triton serves them from there); for an ``s3://``
    repository they stay in the workspace (``<home>/fitted_models``) and ``loadcheck deploy``
    publishes the served version to the bucket.
    """
    if str(repository).startswith("s3://"):
        return (Path(home) if home is not None else default_home()) / FITTED_FOLDER
    return Path(repository)
