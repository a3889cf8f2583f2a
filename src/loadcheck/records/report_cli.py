"""``loadcheck report``: the shift report of a camera or integrator from the inspection records
(:mod:`loadcheck.records.report`). Exit codes: 0 written; 1 the database cannot be reached;
2 bad options."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from loadcheck.cli_options import database_option, home_option


class ReportFormat(StrEnum):
    MD = "md"
    CSV = "csv"


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"


def report_command(
    camera: str | None = typer.Option(None, "--camera", help="Only this camera's verdicts."),
    integrator: str | None = typer.Option(
        None, "--integrator", "-i", help="Only this integrator's verdicts."
    ),
    since: str = typer.Option(
        ..., "--from", help="Start of the shift (ISO 8601, e.g. 2026-12-01T06:00; no zone: UTC)."
    ),
    until: str | None = typer.Option(
        None, "--to", help="End of the shift, excluded (ISO 8601; default: now)."
    ),
    by: Bucket | None = typer.Option(
        None, "--by", help="Counts per hour or per day (default: hours up to 2 days, else days)."
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.MD, "--format", "-f", help="md or csv."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here (default: stdout)."),
    database: str | None = database_option(),
    home: Path = home_option(),
) -> None:
    """Counts and shares per verdict, needs-review and corrected verdicts, per hour or day."""
    from loadcheck.records import cli as records_cli

    start = records_cli.parse_time(since, "--from")
    end = records_cli.parse_time(until, "--to") or datetime.now(UTC)
    assert start is not None
    records_cli._STATE.update(database=database, home=home)
    from loadcheck.records.model import RecordError
    from loadcheck.records.report import build_report, to_csv, to_markdown

    with records_cli.open_store() as store:
        try:
            report = build_report(
                store,
                since=start,
                until=end,
                camera=camera,
                integrator=integrator,
                bucket=by.value if by is not None else None,
            )
        except RecordError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    text = to_csv(report) if fmt is ReportFormat.CSV else to_markdown(report)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote the report of {report.totals.total} verdicts to {out}", err=True)
