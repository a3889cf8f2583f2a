"""``loadcheck console``: run the Streamlit admin console; ``create-admin NAME`` adds an account.

The workspace is ``--home`` (``$LOADCHECK_HOME``), the model repository ``--repository``
(``$LOADCHECK_REPOSITORY``), Triton ``--triton`` (``$LOADCHECK_TRITON_URL``); the options are
handed to the Streamlit process as those variables, which :class:`ConsoleConfig` reads with
``$LOADCHECK_API_KEY`` and the console's own (see ``docs/console.md``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from loadcheck.cli_options import home_option, host_option, repository_option, triton_url_option
from loadcheck.deploy_constants import CONSOLE_PORT
from loadcheck.environment import CONSOLE_MAX_UPLOAD_MB, HOME, REPOSITORY, TRITON_URL

console_app = typer.Typer(
    help="The Streamlit admin console (run without a sub-command to start it).",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def max_upload_mb() -> int:
    """Largest file one upload may hold, in MB (``$LOADCHECK_CONSOLE_MAX_UPLOAD_MB``, 512)."""
    text = CONSOLE_MAX_UPLOAD_MB.get_text()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"${CONSOLE_MAX_UPLOAD_MB.name}: expected a whole number of MB >= 1, got {text!r}"
        )
    return int(text)


@console_app.callback(invoke_without_command=True)
def console_command(
    ctx: typer.Context,
    port: int = typer.Option(CONSOLE_PORT, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = host_option("--address"),
    home: Path = home_option(),
    repository: str = repository_option(
        "Model repository Triton serves: a folder or s3://bucket/prefix."
    ),
    triton: str = triton_url_option(
        "--triton", "Triton's HTTP host:port.", TRITON_URL.get_default()
    ),
) -> None:
    """Start the admin console (Streamlit) until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    from loadcheck.console.auth import AdminStore
    from loadcheck.console.metrics import configured_port
    from loadcheck.workspace import Workspace

    # the Streamlit process reads its configuration from the environment (ConsoleConfig)
    os.environ[HOME.name] = str(home)
    os.environ[REPOSITORY.name] = str(repository)
    os.environ[TRITON_URL.name] = triton
    if not AdminStore(Workspace(home)).names():
        typer.echo(
            "error: no admin account yet; create one with: loadcheck console create-admin NAME",
            err=True,
        )
        raise typer.Exit(2)
    try:
        upload_mb = max_upload_mb()
        configured_port()  # a bad $LOADCHECK_CONSOLE_METRICS_PORT stops the start
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    app = Path(__file__).with_name("app.py")
    # loadcheck.console.launch starts the metrics server (when configured), then Streamlit
    args = [
        sys.executable,
        "-m",
        "loadcheck.console.launch",
        "run",
        str(app),
        f"--server.port={port}",
        f"--server.address={host}",
        "--server.headless=true",
        f"--server.maxUploadSize={upload_mb}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--client.toolbarMode=minimal",
        "--client.showErrorDetails=false",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            typer.echo("error: --password-stdin: no password on standard input", err=True)
            raise typer.Exit(2)
        return line.rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat password", hide_input=True)
    if first != second:
        typer.echo("error: the two passwords differ", err=True)
        raise typer.Exit(2)
    return str(first)


@console_app.command("create-admin")
def create_admin_command(
    name: str = typer.Argument(..., help="Admin name (letters, digits, '_', '.', '@', '-')."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    replace: bool = typer.Option(False, "--replace", help="Reset an existing admin's password."),
    home: Path = home_option(),
) -> None:
    """Create a console admin (asks for the password twice, hidden)."""
    from loadcheck.console.auth import AdminStore, AuthError
    from loadcheck.workspace import Workspace

    password = _read_password(password_stdin)
    try:
        AdminStore(Workspace(home)).create(name, password, replace=replace)
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"admin {name!r} {'updated' if replace else 'created'}")
