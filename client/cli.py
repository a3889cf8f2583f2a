"""``loadcheck inspect``: inspect photos, folders and zip archives on a loadcheck Triton server.

Exit codes: 0 every image was inspected; 1 some failed (each listed with its reason on stderr),
no ready server answers at ``--url``, or the TLS handshake failed; 2 usage errors (bad option,
missing path, no images, unknown integrator, a missing or unusable TLS file). Library imports
happen inside the command so ``loadcheck --help`` is fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from loadcheck.cli_options import (
    api_key_option,
    ca_file_option,
    cert_file_option,
    database_option,
    home_option,
    key_file_option,
    triton_url_option,
)
from loadcheck.client.formats import OutputFormat
from loadcheck.deploy_constants import TRITON_GRPC_PORT, TRITON_HTTP_PORT

if TYPE_CHECKING:
    from loadcheck.client.async_client import AsyncInspectionClient, BatchItem
    from loadcheck.client.transport import Protocol_
    from loadcheck.records.recorder import Recorder

#: ``(ca_file, cert_file, key_file)`` of ``--ca-file``, ``--cert-file``, ``--key-file``.
TlsFiles = tuple[Path | None, Path | None, Path | None]

DEFAULT_HTTP_URL = f"localhost:{TRITON_HTTP_PORT}"
DEFAULT_GRPC_URL = f"localhost:{TRITON_GRPC_PORT}"


def make_client(
    url: str,
    protocol: Protocol_,
    timeout: float,
    api_key: str | None,
    tls_files: TlsFiles = (None, None, None),
) -> AsyncInspectionClient:
    """Build the client the command uses (tests replace this function with a fake).

    ``tls_files``: ``(ca_file, cert_file, key_file)``, each a path or None.
    """
    from loadcheck.client.async_client import AsyncInspectionClient

    ca_file, cert_file, key_file = tls_files
    return AsyncInspectionClient(
        url, protocol, timeout, api_key, ca_file=ca_file, cert_file=cert_file, key_file=key_file
    )


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def open_recorder(database: str | None, home: Path, camera: str | None) -> Recorder | None:
    """The recorder of ``--record``. A bad database URL, a missing records extra or a database
    newer than this loadcheck are usage errors (exit 2, nothing sent); an unreachable database
    is warned about and the photos are inspected all the same, unrecorded (``None``): a record
    never costs a verdict."""
    try:
        import sqlalchemy as sa

        from loadcheck.records.model import RecordError
        from loadcheck.records.recorder import open_recorder as open_records
    except ImportError as exc:
        raise _usage_error(
            f"--record needs the records extra ({exc.name} is missing): "
            'pip install "loadcheck[records]"'
        ) from None
    try:
        return open_records(database, home, recorded_by="inspect", camera=camera)
    except RecordError as exc:
        raise _usage_error(str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        typer.echo(
            f"warning: --record: cannot open the records database, inspecting without "
            f"recording: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            err=True,
        )
        return None


def inspect_command(
    paths: list[Path] = typer.Argument(
        ...,
        help="Image files, folders (searched recursively) or zip archives.",
        show_default=False,
        metavar="PATH",
    ),
    integrator: str = typer.Option(
        ..., "--integrator", "-i", help="Name of the deployed integrator (model integrator_NAME)."
    ),
    url: str | None = triton_url_option(
        "--url",
        f"Triton host:port (default: {DEFAULT_HTTP_URL}, or {DEFAULT_GRPC_URL} with --grpc); "
        "https://host:port (grpcs:// with --grpc) for TLS.",
    ),
    grpc: bool = typer.Option(False, "--grpc", help="Use gRPC instead of HTTP."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", "-f", help="Output format."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the results to this file instead of stdout."
    ),
    overlays: Path | None = typer.Option(
        None,
        "--overlays",
        help="Write an overlay PNG per image (masks, boxes, verdict) into this folder; "
        "asks the server for masks too (a second segmentator pass per image).",
    ),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, help="Requests in flight."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds per request."),
    api_key: str | None = api_key_option(),
    ca_file: Path | None = ca_file_option(),
    cert_file: Path | None = cert_file_option(),
    key_file: Path | None = key_file_option(),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    record: bool = typer.Option(
        False,
        "--record",
        help="Store each verdict with its photo in the inspection records (docs/records.md); "
        "a failed record write never changes a verdict.",
    ),
    camera: str | None = typer.Option(
        None, "--camera", help="With --record: the camera the photos come from."
    ),
    database: str | None = database_option(),
    home: Path = home_option(),
) -> None:
    """Inspect truck photos: a verdict per image, the failures, and a summary line.

    Exit code 0 when every image was inspected, 1 when some failed, 2 on usage errors.
    """
    import asyncio

    from loadcheck.client.batch import run_batch, write_results
    from loadcheck.client.errors import ModelNotFoundError, TlsError, TransientError
    from loadcheck.client.formats import summary_line
    from loadcheck.client.images import SourceError, collect_sources
    from loadcheck.imageio import IMAGE_EXTENSIONS_TEXT

    try:
        sources = collect_sources(paths)
    except SourceError as exc:
        raise _usage_error(str(exc)) from None
    if not sources:
        raise _usage_error(f"no images ({IMAGE_EXTENSIONS_TEXT}) in {', '.join(map(str, paths))}")
    protocol: Protocol_ = "grpc" if grpc else "http"
    try:
        client = make_client(
            url or (DEFAULT_GRPC_URL if grpc else DEFAULT_HTTP_URL),
            protocol,
            timeout,
            api_key,
            (ca_file, cert_file, key_file),
        )
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    if overlays is not None:
        overlays.mkdir(parents=True, exist_ok=True)
    recorder = open_recorder(database, home, camera) if record else None
    on_result = None
    if recorder is not None:

        def on_result(item: BatchItem, image: bytes) -> None:
            assert item.result is not None
            recorder.record(item.result, image, integrator=integrator, source=item.source.label)

    start = time.perf_counter()
    try:
        items = asyncio.run(
            run_batch(
                client,
                sources,
                integrator,
                concurrency=concurrency,
                overlays=overlays,
                progress=progress,
                on_result=on_result,
            )
        )
        elapsed = time.perf_counter() - start
    except ModelNotFoundError as exc:
        raise _usage_error(f"integrator {integrator!r} is not deployed: {exc}") from None
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    except (TransientError, TlsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if recorder is not None:
            stats = recorder.close()
            typer.echo(
                f"recorded {stats.written} inspections, {stats.dropped} dropped"
                + (f", {stats.queued} not written in time" if stats.queued else ""),
                err=True,
            )
        elif record:
            typer.echo("recorded 0 inspections: the records database was unreachable", err=True)
    if output is not None:
        with output.open("w", encoding="utf-8", newline="") as fh:
            write_results(items, fmt, fh, color=False)
    else:
        write_results(items, fmt, sys.stdout, color=sys.stdout.isatty())
    failed = [i for i in items if not i.ok]
    for item in failed:
        typer.echo(f"FAILED {item.source.label}: {item.error}", err=True)
    typer.echo(summary_line(items, elapsed), err=True)
    raise typer.Exit(1 if failed else 0)
