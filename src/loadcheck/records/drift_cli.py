"""``loadcheck records drift``: the recent records' features of an integrator (and camera)
against its served version's fitting data (:mod:`loadcheck.monitoring.served_drift`).

Exit codes: 0 a figure (stable or drifting) or the reason there is none; 1 the database cannot be
reached; 2 bad options or an unknown integrator; 3 with ``--fail-on-drift`` when drifting."""

from __future__ import annotations

import json
import sys

import typer

from loadcheck.cli_options import repository_option
from loadcheck.monitoring.served_drift import DEFAULT_LAST, MAX_LAST, DriftAssessment


def drift_command(
    integrator: str = typer.Option(..., "--integrator", "-i", help="The integrator."),
    camera: str | None = typer.Option(
        None, "--camera", help="Only this camera's records (default: every camera)."
    ),
    last: int = typer.Option(
        DEFAULT_LAST, "--last", "-n", min=1, max=MAX_LAST, help="Compare the newest N records."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only records from this time on (ISO 8601; no zone: UTC)."
    ),
    repository: str = repository_option(
        "Model repository whose served scorer version holds the fitting reference."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 3 when the records drift (for cron jobs)."
    ),
) -> None:
    """PSI and out-of-range share per feature of the newest records against the fitting data
    of the served scorer version, with a plain-language verdict (docs/observability.md)."""
    from loadcheck.integrators.errors import IntegratorError
    from loadcheck.integrators.store import IntegratorStore
    from loadcheck.monitoring.served_drift import DriftStatus, assess_drift
    from loadcheck.records.cli import _STATE, _fail, open_store, parse_time
    from loadcheck.records.model import RecordError

    moment = parse_time(since, "--since")
    try:
        integrators = IntegratorStore(_STATE["home"], repository)
    except (IntegratorError, OSError) as exc:
        raise _fail(f"cannot open the workspace: {exc}", 2) from None
    with open_store() as store:
        try:
            result = assess_drift(
                integrators, store, integrator, camera=camera, last=last, since=moment
            )
        except (IntegratorError, RecordError) as exc:
            raise _fail(str(exc), 2) from None
    if as_json:
        json.dump(assessment_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(result)
    if fail_on_drift and result.status is DriftStatus.DRIFTING:
        raise typer.Exit(3)


def assessment_json(result: DriftAssessment) -> dict[str, object]:
    """The assessment as JSON-ready data (``--json``)."""
    return {
        "integrator": result.integrator,
        "camera": result.camera,
        "status": result.status.value,
        "served_version": result.version,
        "records_read": result.n_records,
        "records_used": result.n_used,
        "records_of_other_versions": result.other_versions,
        "psi_threshold": result.psi_threshold,
        "message": result.message(),
        "features": [
            {
                "feature": f.name,
                "psi": f.psi,
                "out_of_range_share": f.out_of_range_share,
                "shifted": f.shifted,
                "out_of_range": f.out_of_range,
            }
            for f in result.findings
        ],
    }


def _print(result: DriftAssessment) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    if result.findings:
        table = Table(show_edge=False, header_style="bold")
        for column in ("feature", "PSI", "out of range", "flag"):
            table.add_column(column, justify="left" if column in ("feature", "flag") else "right")
        for f in result.findings:
            flags = [
                w for w, on in (("shifted", f.shifted), ("out of range", f.out_of_range)) if on
            ]
            table.add_row(f.name, f"{f.psi:.3f}", f"{f.out_of_range_share:.1%}", ", ".join(flags))
        console.print(table)
    typer.echo(result.message())
    if result.other_versions:
        typer.echo(
            f"note: {result.other_versions} of the records used were answered by another scorer "
            f"version than the served {result.version}",
            err=True,
        )
