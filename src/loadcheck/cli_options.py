"""Options that several commands share, declared once: flag, variable, default and help.

Each option that a ``LOADCHECK_*`` variable (:mod:`loadcheck.environment`) can set passes it to
typer as ``envvar=``, so every command that takes the option honours the variable and its
``--help`` says so (``[env var: LOADCHECK_REPOSITORY]``). Fixed choices are enums (typer lists
their values in ``--help``); :func:`choices` turns a registry's keys into one.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from loadcheck.environment import API_KEY, HOME, REPOSITORY, TRITON_URL
from loadcheck.export.sam_models import SAM_MODEL_TYPES


def repository_option(help: str = "Model repository folder.") -> Any:
    """``--repository DIR``: ``$LOADCHECK_REPOSITORY``, default ``./model_repository``."""
    return typer.Option(
        Path(REPOSITORY.get_default()), "--repository", envvar=REPOSITORY.name, help=help
    )


def home_option() -> Any:
    """``--home DIR``: ``$LOADCHECK_HOME``, default ``./workspace``."""
    return typer.Option(
        Path(HOME.get_default()),
        "--home",
        envvar=HOME.name,
        help="Workspace folder (integrators, fitting data, tokens, admins, audit log).",
    )


def triton_url_option(flag: str, help: str, default: str | None = None) -> Any:
    """Triton's ``host:port`` under ``flag``: ``$LOADCHECK_TRITON_URL``, else ``default``."""
    return typer.Option(default, flag, envvar=TRITON_URL.name, help=help)


def api_key_option(
    help: str = "Key of Triton's restricted APIs (model repository and config).",
) -> Any:
    """``--api-key KEY``: ``$LOADCHECK_API_KEY``; never shown in ``--help``."""
    return typer.Option(None, "--api-key", envvar=API_KEY.name, help=help, show_default=False)


def choices(name: str, keys: Iterable[str]) -> type[StrEnum]:
    """A :class:`~enum.StrEnum` whose members are ``keys`` (a registry's), for a typed option."""
    members = {key: key for key in keys}
    return StrEnum(name, members)  # type: ignore[return-value]


#: SAM's model types (keys of :data:`loadcheck.export.sam_models.SAM_MODEL_TYPES`), for
#: ``export sam`` and ``train sam``.
SamModelType = choices("SamModelType", SAM_MODEL_TYPES)
