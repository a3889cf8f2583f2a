"""``loadcheck records ...``: list (filters, paging), show (with the photo) and purge the
inspection records. Exit codes: 0 done; 1 the database cannot be reached; 2 bad options."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from loadcheck.cli_options import database_option, home_option
from loadcheck.cli_options import fail as _fail
from loadcheck.payloads import Verdict

if TYPE_CHECKING:
    from loadcheck.records.model import InspectionRecord
    from loadcheck.records.store import RecordStore

records_app = typer.Typer(
    name="records",
    help="Inspection records: every verdict kept with its provenance and photo.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_STATE: dict[str, Any] = {"database": None, "home": None}


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


#: CSV columns of ``records list --format csv``; the features follow as ``feature:<name>``.
CSV_COLUMNS = (
    "id",
    "at",
    "camera",
    "integrator",
    "scorer_version",
    "verdict",
    "probability",
    "threshold",
    "needs_review",
    "photo_sha256",
    "photo_stored",
    "source",
)


@records_app.callback()
def _options(database: str | None = database_option(), home: Path = home_option()) -> None:
    _STATE["database"], _STATE["home"] = database, home


@contextmanager
def open_store() -> Iterator[RecordStore]:
    """The store of ``--database`` / ``--home``; errors become exit codes 2 (bad URL, a newer
    schema) or 1 (unreachable database)."""
    try:
        import sqlalchemy as sa

        from loadcheck.records.model import RecordError
        from loadcheck.records.store import RecordStore
    except ImportError as exc:
        raise _fail(
            f"the records store needs the records extra ({exc.name} is missing): "
            'pip install "loadcheck[records]"',
            2,
        ) from None
    try:
        store = RecordStore(_STATE["database"], home=_STATE["home"])
    except RecordError as exc:
        raise _fail(str(exc), 2) from None
    except sa.exc.SQLAlchemyError as exc:
        raise _fail(
            f"cannot open the records database: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}",
            1,
        ) from None
    try:
        yield store
    finally:
        store.close()


def parse_time(text: str | None, flag: str) -> datetime | None:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"{flag}: expected an ISO 8601 date or time such as 2026-12-01 or "
            f"2026-12-01T14:00+02:00, got {text!r}",
            2,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@records_app.command("list")
def list_command(
    integrator: str | None = typer.Option(None, "--integrator", "-i", help="Only this one."),
    camera: str | None = typer.Option(None, "--camera", help="Only this camera."),
    verdict: Verdict | None = typer.Option(None, "--verdict", help="Only this verdict."),
    since: str | None = typer.Option(
        None, "--since", help="From this time on (ISO 8601; no zone: UTC)."
    ),
    until: str | None = typer.Option(None, "--until", help="Before this time (ISO 8601)."),
    min_probability: float | None = typer.Option(
        None, "--min-probability", min=0.0, max=1.0, help="Probability at least this."
    ),
    max_probability: float | None = typer.Option(
        None, "--max-probability", min=0.0, max=1.0, help="Probability at most this."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=1000, help="Records per page."),
    after: str | None = typer.Option(
        None, "--after", help="The cursor printed after the previous page (next page)."
    ),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", "-f", help="Output format."),
) -> None:
    """List records, newest first; the next page's cursor and the count go to stderr."""
    from loadcheck.records.model import RecordError, RecordQuery

    try:
        query = RecordQuery(
            integrator=integrator,
            camera=camera,
            verdict=verdict,
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            min_probability=min_probability,
            max_probability=max_probability,
            limit=limit,
            after=after,
        )
    except RecordError as exc:
        raise _fail(str(exc), 2) from None
    with open_store() as store:
        page = store.query(query)
        total = store.count(query)
    records = list(page.records)
    if fmt is ListFormat.JSON:
        json.dump([r.to_json() for r in records], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif fmt is ListFormat.CSV:
        write_csv(records, sys.stdout)
    else:
        _print_table(records)
    typer.echo(f"{len(records)} of {total} matching records", err=True)
    if page.next_cursor is not None:
        typer.echo(f"next page: --after {page.next_cursor}", err=True)


def write_csv(
    records: Sequence[InspectionRecord],
    out: Any,
    *,
    extra_columns: Sequence[str] = (),
    extra: Callable[[InspectionRecord], Sequence[object]] | None = None,
) -> None:
    """One row per record: :data:`CSV_COLUMNS`, then ``extra_columns`` (``extra(record)``'s
    cells, e.g. the console's corrections), then ``feature:<name>`` columns."""
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.features or {}))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra_columns, *(f"feature:{n}" for n in names)])
    for r in records:
        p = r.provenance
        values = r.features or {}
        writer.writerow(
            [
                r.record_id,
                r.at.isoformat(),
                r.camera or "",
                r.integrator,
                p.scorer_version or "",
                r.verdict.value,
                f"{r.probability:.6f}",
                f"{r.threshold:.6f}",
                "" if r.needs_review is None else int(r.needs_review),
                r.photo_sha256 or "",
                int(r.photo_stored),
                p.source or "",
                *(extra(r) if extra is not None else ()),
                *(f"{values[n]:.6g}" if n in values else "" for n in names),
            ]
        )


def _print_table(records: list[InspectionRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "at (UTC)", "camera", "integrator", "v", "verdict", "p", "thr", "photo"):
        table.add_column(column, justify="right" if column in ("id", "v", "p", "thr") else "left")
    for r in records:
        table.add_row(
            str(r.record_id),
            r.at.strftime("%Y-%m-%d %H:%M:%S"),
            r.camera or "",
            r.integrator,
            str(r.provenance.scorer_version or ""),
            r.verdict.value,
            f"{r.probability:.3f}",
            f"{r.threshold:.3f}",
            (r.photo_sha256 or "")[:12] + ("" if r.photo_stored else " (not kept)")
            if r.photo_sha256
            else "",
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@records_app.command("show")
def show_command(
    record_id: int = typer.Argument(..., help="The record's id (records list)."),
    photo: Path | None = typer.Option(
        None, "--photo", help="Write the record's photo to this file."
    ),
) -> None:
    """One record as JSON (features, trucks, provenance, its correction); its photo with
    --photo."""
    from loadcheck.records.corrections import get_correction

    with open_store() as store:
        try:
            record = store.get(record_id)
        except KeyError as exc:
            raise _fail(exc.args[0], 2) from None
        correction = get_correction(store, record_id)
        content = None
        if photo is not None:
            if record.photo_sha256 is None:
                raise _fail(f"record {record_id} has no photo", 2)
            try:
                content = store.photo(record.photo_sha256)
            except KeyError as exc:
                raise _fail(exc.args[0], 1) from None
    shown = {**record.to_json(), "correction": correction.to_json() if correction else None}
    typer.echo(json.dumps(shown, indent=2))
    if photo is not None and content is not None:
        from loadcheck.atomic import atomic_write_bytes

        atomic_write_bytes(photo, content)
        typer.echo(f"photo written to {photo} ({len(content)} bytes)", err=True)


@records_app.command("purge")
def purge_command(
    older_than_days: float | None = typer.Option(
        None, "--older-than-days", min=0.0, help="Delete records older than this many days."
    ),
    photos_older_than_days: float | None = typer.Option(
        None,
        "--photos-older-than-days",
        min=0.0,
        help="Delete photos no record of the last this many days refers to (records stay).",
    ),
) -> None:
    """Retention: delete old records and the photos they alone used (see docs/records.md)."""
    from loadcheck.records.model import RecordError

    if older_than_days is None and photos_older_than_days is None:
        raise _fail("give --older-than-days and/or --photos-older-than-days", 2)
    with open_store() as store:
        try:
            result = store.purge(
                records_older_than=_days(older_than_days),
                photos_older_than=_days(photos_older_than_days),
            )
        except RecordError as exc:
            raise _fail(str(exc), 2) from None
    typer.echo(
        f"purged {result.records_deleted} records and {result.photos_deleted} photos "
        f"({result.photo_bytes_deleted / 1e6:.1f} MB)"
    )


def _days(value: float | None) -> timedelta | None:
    return timedelta(days=value) if value is not None else None


def _register_drift() -> None:
    from loadcheck.records.drift_cli import drift_command

    records_app.command("drift")(drift_command)


_register_drift()
