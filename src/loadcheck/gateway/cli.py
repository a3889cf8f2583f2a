"""``loadcheck gateway``: serve the legacy endpoint; ``tokens``, ``rotate`` and ``revoke`` manage
its URL tokens in the workspace (``--home``, ``$LOADCHECK_HOME``). Triton is ``--triton``
(``$LOADCHECK_TRITON_URL``). The limits (body size, header and body timeouts, minimum body rate,
connections, uploads in flight) are options with ``$LOADCHECK_GATEWAY_*`` variables
(:mod:`loadcheck.gateway.limits`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from loadcheck.cli_options import api_key_option, home_option, host_option, triton_url_option
from loadcheck.deploy_constants import GATEWAY_PORT
from loadcheck.environment import (
    GATEWAY_BODY_TIMEOUT,
    GATEWAY_HEADER_TIMEOUT,
    GATEWAY_MAX_BODY_MB,
    GATEWAY_MAX_CONNECTIONS,
    GATEWAY_MAX_IN_FLIGHT,
    GATEWAY_MIN_BODY_RATE_KIB,
    TRITON_URL,
)
from loadcheck.gateway import limits as lim

if TYPE_CHECKING:
    from loadcheck.gateway.tokens import TokenStore

gateway_app = typer.Typer(
    help="The legacy-compatible HTTP gateway (POST /quality_detector/handle_image_post/<token>/).",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _store(home: Path) -> TokenStore:
    from loadcheck.gateway.tokens import TokenStore
    from loadcheck.workspace import Workspace

    return TokenStore(Workspace(home))


@gateway_app.callback(invoke_without_command=True)
def gateway_command(
    ctx: typer.Context,
    triton: str = triton_url_option(
        "--triton", "Triton host:port (its gRPC port with --grpc).", TRITON_URL.get_default()
    ),
    grpc: bool = typer.Option(False, "--grpc", help="Talk to Triton over gRPC."),
    host: str = host_option(),
    port: int = typer.Option(GATEWAY_PORT, "--port", min=1, max=65535, help="Port to listen on."),
    max_body_mb: float = typer.Option(
        20.0,
        "--max-body-mb",
        min=0.001,
        envvar=GATEWAY_MAX_BODY_MB.name,
        help="Largest request body in MiB (413 above).",
    ),
    header_timeout: float = typer.Option(
        lim.DEFAULT_HEADER_TIMEOUT_S,
        "--header-timeout",
        min=0.1,
        envvar=GATEWAY_HEADER_TIMEOUT.name,
        help="Seconds for a request line and its headers (408 and closed after).",
    ),
    body_timeout: float = typer.Option(
        lim.DEFAULT_BODY_TIMEOUT_S,
        "--body-timeout",
        min=0.1,
        envvar=GATEWAY_BODY_TIMEOUT.name,
        help="Seconds for a whole request body (408 and closed after).",
    ),
    min_body_rate_kib: float = typer.Option(
        lim.DEFAULT_MIN_BODY_RATE_KIB_S,
        "--min-body-rate-kib",
        min=0.0,
        envvar=GATEWAY_MIN_BODY_RATE_KIB.name,
        help="Slowest body in KiB/s on average after its first 5 s (408 below; 0: none).",
    ),
    max_connections: int = typer.Option(
        lim.DEFAULT_MAX_CONNECTIONS,
        "--max-connections",
        min=1,
        envvar=GATEWAY_MAX_CONNECTIONS.name,
        help="Open connections served; requests on more are answered 503.",
    ),
    max_in_flight: int = typer.Option(
        lim.DEFAULT_MAX_IN_FLIGHT,
        "--max-in-flight",
        min=1,
        envvar=GATEWAY_MAX_IN_FLIGHT.name,
        help="Uploads processed at once; more are answered 503 with Retry-After.",
    ),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds per inference."),
    retry_after: int = typer.Option(5, "--retry-after", min=1, help="Retry-After of 503s, s."),
    api_key: str | None = api_key_option(),
    home: Path = home_option(),
) -> None:
    """Serve the legacy endpoint in front of Triton (run without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    from loadcheck.client.async_client import AsyncInspectionClient
    from loadcheck.client.retry import RetryPolicy
    from loadcheck.gateway.app import create_app
    from loadcheck.gateway.server import run_gateway

    store = _store(home)
    for token in store.issue_for_deployed():
        typer.echo(f"issued a token for {token.integrator}: {token.path}", err=True)
    try:
        backend = AsyncInspectionClient(
            triton,
            "grpc" if grpc else "http",
            timeout,
            api_key,
            retry=RetryPolicy(max_attempts=2, initial_backoff_s=0.2),
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    limits = lim.GatewayLimits(
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        min_body_rate_bytes_s=min_body_rate_kib * 1024,
        max_connections=max_connections,
        max_in_flight=max_in_flight,
    )
    app = create_app(
        backend,
        store,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        retry_after_s=retry_after,
        limits=limits,
    )
    run_gateway(app, host, port, limits, retry_after_s=retry_after)


@gateway_app.command("tokens")
def tokens_command(home: Path = home_option()) -> None:
    """List the URL token of every integrator (issuing tokens for deployed ones without)."""
    store = _store(home)
    new = {t.integrator for t in store.issue_for_deployed()}
    tokens = store.all()
    if not tokens:
        typer.echo("no tokens yet: deploy an integrator, or run `loadcheck gateway rotate NAME`")
        return
    for t in tokens:
        note = "  (new)" if t.integrator in new else ""
        typer.echo(f"{t.integrator}\t{t.path}\trotated {t.rotated_at}{note}")


@gateway_app.command("rotate")
def rotate_command(
    name: str = typer.Argument(..., help="Integrator whose token to replace."),
    home: Path = home_option(),
) -> None:
    """Replace an integrator's token (the old URL stops working at once) and print the new URL."""
    store = _store(home)
    known = store.known_integrators()
    if name not in known:
        typer.echo(
            f"error: no integrator {name!r} in the workspace; known: {', '.join(known) or 'none'}",
            err=True,
        )
        raise typer.Exit(2)
    token = store.rotate(name)
    typer.echo(f"{token.integrator}\t{token.path}")


@gateway_app.command("revoke")
def revoke_command(
    name: str = typer.Argument(..., help="Integrator whose token to delete."),
    home: Path = home_option(),
) -> None:
    """Delete an integrator's token: its URL answers 404 until a new token is issued."""
    if not _store(home).revoke(name):
        typer.echo(f"error: {name!r} has no token", err=True)
        raise typer.Exit(2)
    typer.echo(f"revoked the token of {name}")
