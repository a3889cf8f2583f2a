"""Default locations: the workspace (``LOADCHECK_HOME``) and the model repository."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "LOADCHECK_HOME"
REPOSITORY_ENV = "LOADCHECK_REPOSITORY"


def default_home() -> Path:
    """``$LOADCHECK_HOME`` or ``./workspace``."""
    return Path(os.environ.get(HOME_ENV) or "workspace")


def default_repository() -> Path:
    """``$LOADCHECK_REPOSITORY`` or ``./model_repository``."""
    return Path(os.environ.get(REPOSITORY_ENV) or "model_repository")
