"""Options that several commands share, declared once: flag, variable, default and help.

Each option that a ``LOADCHECK_*`` variable (:mod:`loadcheck.environment`) can set passes it to
typer as ``envvar=``, so every command that takes the option honours the variable and its
``--help`` says so (``[env var: LOADCHECK_REPOSITORY]``). Fixed choices are enums (typer lists
their values in ``--help``); :func:`choices` turns a registry's keys into one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from loadcheck.environment import (
    API_KEY,
    CA_FILE,
    CERT_FILE,
    DATABASE_URL,
    HOME,
    KEY_FILE,
    REPOSITORY,
    TRITON_URL,
)
from loadcheck.export.sam_models import SAM_MODEL_TYPES


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; the :class:`typer.Exit` to raise with ``code``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def repository_option(
    help: str = "Model repository: a folder or s3://bucket/prefix.",
) -> Any:
    """``--repository DIR|s3://BUCKET/PREFIX``: ``$LOADCHECK_REPOSITORY``, default
    ``./model_repository`` (a string: :func:`loadcheck.serving.storage.open_repository` opens
    it; a ``Path`` would turn ``s3://`` into a folder named ``s3:``)."""
    return typer.Option(REPOSITORY.get_default(), "--repository", envvar=REPOSITORY.name, help=help)


def home_option() -> Any:
    """``--home DIR``: ``$LOADCHECK_HOME``, default ``./workspace``."""
    return typer.Option(
        Path(HOME.get_default()),
        "--home",
        envvar=HOME.name,
        help="Workspace folder (integrators, fitting data, tokens, admins, audit log).",
    )


def database_option() -> Any:
    """``--database URL``: the inspection records' database, ``$LOADCHECK_DATABASE_URL``; unset:
    SQLite in the workspace (``<--home>/records.db``)."""
    return typer.Option(
        None,
        "--database",
        envvar=DATABASE_URL.name,
        help="Records database URL (postgresql://USER@HOST:PORT/DB or sqlite:///PATH); "
        "default: SQLite records.db in the workspace (--home).",
        show_default=False,
    )


def triton_url_option(flag: str, help: str, default: str | None = None) -> Any:
    """Triton's ``host:port`` under ``flag``: ``$LOADCHECK_TRITON_URL``, else ``default``."""
    return typer.Option(default, flag, envvar=TRITON_URL.name, help=help)


def _warn_if_key_on_command_line(value: str | None) -> str | None:
    if value and any(a == "--api-key" or a.startswith("--api-key=") for a in sys.argv):
        typer.echo(
            f"warning: --api-key on the command line is visible to every local user (ps); "
            f"set ${API_KEY.name} instead",
            err=True,
        )
    return value


def api_key_option(
    help: str = "Key of Triton's restricted APIs (model repository and config, statistics, ...).",
) -> Any:
    """``--api-key KEY``: ``$LOADCHECK_API_KEY``; never shown in ``--help``. Given as a flag, it
    warns that ``ps`` shows it to every local user (the variable does not)."""
    return typer.Option(
        None,
        "--api-key",
        envvar=API_KEY.name,
        help=help,
        show_default=False,
        callback=_warn_if_key_on_command_line,
    )


def ca_file_option() -> Any:
    """``--ca-file PEM``: ``$LOADCHECK_CA_FILE``; the CAs trusted for the server's TLS
    certificate (default: the system's store)."""
    return typer.Option(
        None,
        "--ca-file",
        envvar=CA_FILE.name,
        help="TLS: PEM bundle of the CAs that may sign the server's certificate (default: the "
        "system's trust store); turns TLS on for a bare host:port.",
        show_default=False,
    )


def cert_file_option() -> Any:
    """``--cert-file PEM``: ``$LOADCHECK_CERT_FILE``; the client's certificate (mutual TLS)."""
    return typer.Option(
        None,
        "--cert-file",
        envvar=CERT_FILE.name,
        help="Mutual TLS: the client's certificate (PEM); needs --key-file.",
        show_default=False,
    )


def key_file_option() -> Any:
    """``--key-file PEM``: ``$LOADCHECK_KEY_FILE``; the private key of ``--cert-file``."""
    return typer.Option(
        None,
        "--key-file",
        envvar=KEY_FILE.name,
        help="Mutual TLS: the unencrypted private key (PEM) of --cert-file.",
        show_default=False,
    )


#: Where ``serve``, ``gateway`` and ``console`` listen unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"


def host_option(*aliases: str) -> Any:
    """``--host ADDRESS``: the address to listen on, default 127.0.0.1 (this machine only).

    ``0.0.0.0`` listens on every interface; the container entrypoints, compose and Kubernetes
    files pass it explicitly.
    """
    return typer.Option(
        DEFAULT_HOST,
        "--host",
        *aliases,
        help="Address to listen on (0.0.0.0: every interface; the containers pass it).",
    )


def choices(name: str, keys: Iterable[str]) -> type[StrEnum]:
    """A :class:`~enum.StrEnum` whose members are ``keys`` (a registry's), for a typed option."""
    members = {key: key for key in keys}
    return StrEnum(name, members)  # type: ignore[return-value]


#: SAM's model types (keys of :data:`loadcheck.export.sam_models.SAM_MODEL_TYPES`), for
#: ``export sam`` and ``train sam``.
SamModelType = choices("SamModelType", SAM_MODEL_TYPES)
