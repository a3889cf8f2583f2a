"""Default locations: the workspace (``$LOADCHECK_HOME``) and the model repository
(``$LOADCHECK_REPOSITORY``), both declared in :mod:`loadcheck.environment`."""

from __future__ import annotations

from pathlib import Path

from loadcheck.environment import HOME, REPOSITORY


def default_home() -> Path:
    """``$LOADCHECK_HOME`` or ``./workspace``."""
    return Path(HOME.get_text())


def default_repository() -> Path:
    """``$LOADCHECK_REPOSITORY`` or ``./model_repository``."""
    return Path(REPOSITORY.get_text())
