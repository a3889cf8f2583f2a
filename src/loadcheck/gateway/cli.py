"""``loadcheck gateway``: serve the legacy endpoint; ``tokens``, ``rotate``, ``revoke`` and
``publish`` manage its URL tokens in the workspace (``--home``, ``$LOADCHECK_HOME``; stored as
hashes, a token is printed once) and publish their hashes into the repository (``--repository``,
``$LOADCHECK_REPOSITORY``) for gateways started with ``--tokens-from repository``. Triton is
``--triton`` (``$LOADCHECK_TRITON_URL``). The limits (body size, header and body timeouts,
minimum body rate, connections, uploads in flight) are options with ``$LOADCHECK_GATEWAY_*``
variables (:mod:`loadcheck.gateway.limits`). ``--record`` keeps every verdict in the inspection
records (``--database``, ``$LOADCHECK_DATABASE_URL``, else SQLite in the workspace);
``--webhook-url`` posts chosen verdicts (:mod:`loadcheck.gateway.recording`); ``--log-format
json`` writes JSON log lines with request ids (:mod:`loadcheck.logs`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loadcheck.cli_options import (
    api_key_option,
    database_option,
    home_option,
    host_option,
    repository_option,
    triton_url_option,
)
from loadcheck.cli_options import (
    fail as _fail,
)
from loadcheck.deploy_constants import GATEWAY_PORT
from loadcheck.environment import (
    GATEWAY_BODY_TIMEOUT,
    GATEWAY_HEADER_TIMEOUT,
    GATEWAY_MAX_BODY_MB,
    GATEWAY_MAX_CONNECTIONS,
    GATEWAY_MAX_IN_FLIGHT,
    GATEWAY_MIN_BODY_RATE_KIB,
    GATEWAY_RECORD,
    GATEWAY_TOKENS_FROM,
    GATEWAY_TOKENS_MAX_AGE,
    LOG_FORMAT,
    TRITON_URL,
    WEBHOOK_ON,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
)
from loadcheck.gateway import limits as lim

if TYPE_CHECKING:
    from loadcheck.gateway.app import TokenLookup
    from loadcheck.gateway.tokens import IssuedToken, TokenStore

#: ``--tokens-from`` values that are not a repository location.
WORKSPACE_SOURCE = "workspace"
REPOSITORY_SOURCE = "repository"

gateway_app = typer.Typer(
    help="The legacy-compatible HTTP gateway (POST /quality_detector/handle_image_post/<token>/).",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _store(home: Path) -> TokenStore:
    from loadcheck.gateway.tokens import TokenStore
    from loadcheck.workspace import Workspace

    return TokenStore(Workspace(home))


def _camera_option() -> Any:
    return typer.Option(
        None,
        "--camera",
        help="A camera of the integrator (its own URL); default: the integrator's own URL.",
    )


def _publish(store: TokenStore, repository: str) -> None:
    """Publish the store's hashes to ``repository`` when it is s3:// or an existing folder."""
    from loadcheck.gateway.token_source import publish_tokens
    from loadcheck.serving.storage import StorageError, is_object_store

    if not is_object_store(repository) and not Path(repository).is_dir():
        typer.echo(
            f"not published: no repository folder {repository} (gateways reading the workspace "
            "see the change at once; `loadcheck gateway publish --repository ...` publishes)",
            err=True,
        )
        return
    try:
        count = publish_tokens(store.all(), repository)
    except (StorageError, OSError) as exc:
        raise _fail(
            f"the workspace has the change, but publishing the token hashes to {repository} "
            f"failed: {exc}; gateways reading it keep the previous tokens until "
            "`loadcheck gateway publish` succeeds",
            1,
        ) from exc
    typer.echo(f"published {count} token hashes to {repository}", err=True)


def _issued_line(token: IssuedToken) -> str:
    return f"{token.binding}\t{token.path}"


def token_lookup(tokens_from: str, repository: str, home: Path, max_age_s: float) -> TokenLookup:
    """The token source ``--tokens-from`` names: the workspace's store, or the published document
    of ``repository`` (``repository``) or of another folder / ``s3://`` location."""
    if tokens_from == WORKSPACE_SOURCE:
        store = _store(home)
        missing = [n for n in store.deployed_integrators() if store.get(n) is None]
        if missing:
            typer.echo(
                f"deployed integrators without a token: {', '.join(missing)}; "
                "`loadcheck gateway tokens` issues them",
                err=True,
            )
        return store
    from loadcheck.gateway.token_source import PublishedTokens

    location = repository if tokens_from == REPOSITORY_SOURCE else tokens_from
    published = PublishedTokens(location, max_age_s)
    typer.echo(
        f"tokens: {len(published)} hashes from {published.url} (re-read after {max_age_s:g} s)",
        err=True,
    )
    return published


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
    tokens_from: str = typer.Option(
        GATEWAY_TOKENS_FROM.get_default(),
        "--tokens-from",
        envvar=GATEWAY_TOKENS_FROM.name,
        help="Token hashes from the 'workspace' database, the 'repository' (the document "
        "published in --repository), or a folder or s3://bucket/prefix holding it.",
    ),
    tokens_max_age: float = typer.Option(
        float(GATEWAY_TOKENS_MAX_AGE.get_default()),
        "--tokens-max-age",
        min=0.0,
        envvar=GATEWAY_TOKENS_MAX_AGE.name,
        help="Seconds published tokens are cached before being read again.",
    ),
    repository: str = repository_option(
        "Model repository whose published tokens --tokens-from repository reads."
    ),
    record: str = typer.Option(
        GATEWAY_RECORD.get_default(),
        "--record",
        envvar=GATEWAY_RECORD.name,
        help="Record every verdict with its photo: 'auto' (when a database is named or the "
        "workspace exists), 'on' or 'off'. A store that is down never changes an answer.",
    ),
    database: str | None = database_option(),
    webhook_url: str | None = typer.Option(
        None,
        "--webhook-url",
        envvar=WEBHOOK_URL.name,
        help="POST chosen verdicts here, signed (unset: no webhooks).",
        show_default=False,
    ),
    webhook_secret: str | None = typer.Option(
        None,
        "--webhook-secret",
        envvar=WEBHOOK_SECRET.name,
        help="HMAC key of the webhook signatures (16 bytes or more; prefer the variable).",
        show_default=False,
    ),
    webhook_on: str = typer.Option(
        WEBHOOK_ON.get_default(),
        "--webhook-on",
        envvar=WEBHOOK_ON.name,
        help="Verdicts posted, comma-separated: unqualified, qualified, no-mine, needs-review.",
    ),
    log_format: str | None = typer.Option(
        None,
        "--log-format",
        help=f"Log lines as 'text' or 'json' (default: ${LOG_FORMAT.name}, else text).",
        show_default=False,
    ),
) -> None:
    """Serve the legacy endpoint in front of Triton (run without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    if log_format is not None:
        import logging

        from loadcheck.logs import configure_logging

        try:
            configure_logging(level=logging.getLogger().level, log_format=log_format)
        except ValueError as exc:
            raise _fail(f"--log-format: {exc}") from exc
    from loadcheck.client.async_client import AsyncInspectionClient
    from loadcheck.client.retry import RetryPolicy
    from loadcheck.gateway.app import create_app
    from loadcheck.gateway.server import run_gateway
    from loadcheck.gateway.token_source import TokenSourceError
    from loadcheck.serving.storage import StorageError

    try:
        tokens = token_lookup(tokens_from, repository, home, tokens_max_age)
    except (StorageError, TokenSourceError) as exc:
        raise _fail(f"--tokens-from {tokens_from}: {exc}") from exc
    from loadcheck.gateway.recording import (
        GatewaySetupError,
        open_gateway_recorder,
        webhook_settings,
    )

    try:
        hooks = webhook_settings(webhook_url, webhook_secret, webhook_on)
        recorder = open_gateway_recorder(record, database, home)
    except GatewaySetupError as exc:
        raise _fail(str(exc)) from exc
    webhooks = None
    if hooks is not None:
        from loadcheck.monitoring.webhooks import WebhookSender

        webhooks = WebhookSender(hooks).start()
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
        tokens,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        retry_after_s=retry_after,
        limits=limits,
        recorder=recorder,
        webhooks=webhooks,
    )
    run_gateway(app, host, port, limits, retry_after_s=retry_after)


@gateway_app.command("tokens")
def tokens_command(home: Path = home_option(), repository: str = repository_option()) -> None:
    """List every token's source and rotation time; deployed integrators without a token get one
    (printed now, once: only its hash is kept)."""
    store = _store(home)
    issued = store.issue_for_deployed()
    for token in issued:
        typer.echo(f"{_issued_line(token)}\t(new: shown once, copy it now)")
    new = {t.binding for t in issued}
    records = [r for r in store.all() if r.binding not in new]
    if not records and not issued:
        typer.echo("no tokens yet: deploy an integrator, or run `loadcheck gateway rotate NAME`")
        return
    for r in records:
        typer.echo(f"{r.binding}\trotated {r.rotated_at}\t(stored as a hash; rotate for a new URL)")
    if issued:
        _publish(store, repository)


@gateway_app.command("rotate")
def rotate_command(
    name: str = typer.Argument(..., help="Integrator whose token to replace."),
    camera: str | None = _camera_option(),
    home: Path = home_option(),
    repository: str = repository_option(),
) -> None:
    """Replace a token (the old URL stops working) and print the new URL, once."""
    from loadcheck.gateway.tokens import TokenError

    store = _store(home)
    known = store.known_integrators()
    if name not in known:
        raise _fail(f"no integrator {name!r} in the workspace; known: {', '.join(known) or 'none'}")
    try:
        token = store.rotate(name, camera)
    except TokenError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(_issued_line(token))
    _publish(store, repository)


@gateway_app.command("revoke")
def revoke_command(
    name: str = typer.Argument(..., help="Integrator whose token to delete."),
    camera: str | None = _camera_option(),
    home: Path = home_option(),
    repository: str = repository_option(),
) -> None:
    """Delete a token: its URL answers 404 until a new token is issued."""
    from loadcheck.gateway.tokens import TokenBinding, TokenError

    store = _store(home)
    try:
        revoked = store.revoke(name, camera)
    except TokenError as exc:
        raise _fail(str(exc)) from exc
    if not revoked:
        raise _fail(f"{TokenBinding(name, camera)!s} has no token")
    typer.echo(f"revoked the token of {TokenBinding(name, camera)!s}")
    _publish(store, repository)


@gateway_app.command("publish")
def publish_command(home: Path = home_option(), repository: str = repository_option()) -> None:
    """Publish every token's hash (never the token) into the repository, for gateways started
    with --tokens-from repository."""
    from loadcheck.serving.storage import is_object_store

    if not is_object_store(repository) and not Path(repository).is_dir():
        raise _fail(f"no repository folder {repository}; expected a folder or s3://bucket/prefix")
    _publish(_store(home), repository)
