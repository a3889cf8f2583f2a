"""The shift report: what a camera (or integrator) decided between two times, from the records.

:func:`build_report` counts the records of a period — per verdict with its share, the verdicts
flagged "needs review" (among the records that hold the flag), the verdicts an operator
corrected (``record_corrections``; by right label) — in total and per hour or per day (UTC);
:func:`to_markdown` and :func:`to_csv` render it. The store has no notion of a *disputed*
verdict apart from a correction, so the report has none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa

from loadcheck.payloads import Verdict
from loadcheck.records.model import RecordError, RecordQuery, utc
from loadcheck.records.store import RecordStore, _filters
from loadcheck.records.tables import corrections, records

#: Periods a report is split into.
BUCKETS: Final = ("hour", "day")
_STEP: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: A report with more periods than this is refused (ask for days, or a shorter range).
MAX_BUCKETS: Final = 5000
#: CSV columns of :func:`to_csv`.
CSV_COLUMNS: Final = (
    "period_start",
    "qualified",
    "unqualified",
    "no_mine_detected",
    "total",
    "needs_review",
    "review_recorded",
    "corrected",
)


@dataclass
class Counts:
    """Counts of one period (or of the whole report).

    Attributes:
        by_verdict: records per verdict (every verdict present, zero included).
        needs_review: records flagged "needs review".
        review_recorded: records that hold the flag at all (``needs_review`` not null; a record
            from a caller without it, or from before it existed, does not).
        corrected: records an operator corrected; ``corrected_to``: by the right label.
    """

    by_verdict: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    needs_review: int = 0
    review_recorded: int = 0
    corrected: int = 0
    corrected_to: dict[Verdict, int] = field(
        default_factory=lambda: {Verdict.QUALIFIED: 0, Verdict.UNQUALIFIED: 0}
    )

    @property
    def total(self) -> int:
        return sum(self.by_verdict.values())

    def share(self, verdict: Verdict) -> float | None:
        """The verdict's share of the records (``None`` without records)."""
        return self.by_verdict[verdict] / self.total if self.total else None

    def add(self, verdict: Verdict, needs_review: bool | None, label: Verdict | None) -> None:
        self.by_verdict[verdict] += 1
        if needs_review is not None:
            self.review_recorded += 1
            self.needs_review += int(needs_review)
        if label is not None:
            self.corrected += 1
            self.corrected_to[label] = self.corrected_to.get(label, 0) + 1


@dataclass(frozen=True)
class ShiftReport:
    """The counts of the records with ``since <= at < until`` (UTC) that match the filters."""

    since: datetime
    until: datetime
    camera: str | None
    integrator: str | None
    bucket: str
    totals: Counts
    periods: tuple[tuple[datetime, Counts], ...]


def default_bucket(since: datetime, until: datetime) -> str:
    """``hour`` for up to two days, else ``day``."""
    return "hour" if until - since <= timedelta(days=2) else "day"


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def build_report(
    store: RecordStore,
    *,
    since: datetime,
    until: datetime,
    camera: str | None = None,
    integrator: str | None = None,
    bucket: str | None = None,
) -> ShiftReport:
    """Count the records of ``[since, until)`` of ``camera`` and/or ``integrator`` (``None``:
    any) per verdict, per period of ``bucket`` (``hour``/``day``; default
    :func:`default_bucket`), every period of the range listed, empty ones included.

    Raises:
        RecordError: naive times, ``since >= until``, an unknown bucket, or more than
            :data:`MAX_BUCKETS` periods.
    """
    since, until = utc(since, "from"), utc(until, "to")
    query = RecordQuery(integrator=integrator, camera=camera, since=since, until=until)
    bucket = bucket or default_bucket(since, until)
    if bucket not in BUCKETS:
        raise RecordError(f"bucket: expected one of {', '.join(BUCKETS)}, got {bucket!r}")
    step = _STEP[bucket]
    start = _floor(since, bucket)
    if (until - start) / step > MAX_BUCKETS:
        raise RecordError(
            f"{(until - start) / step:.0f} periods of one {bucket} (at most {MAX_BUCKETS}): "
            "ask for days, or a shorter range"
        )
    periods: dict[datetime, Counts] = {}
    moment = start
    while moment < until:
        periods[moment] = Counts()
        moment += step
    totals = Counts()
    statement = (
        sa.select(records.c.at, records.c.verdict, records.c.needs_review, corrections.c.label)
        .select_from(records.outerjoin(corrections, corrections.c.record_id == records.c.id))
        .where(*_filters(query))
    )
    with store.engine.connect() as conn:
        for at, verdict, needs_review, label in conn.execute(statement):
            v = Verdict(verdict)
            right = Verdict(label) if label is not None else None
            flag = None if needs_review is None else bool(needs_review)
            totals.add(v, flag, right)
            periods[_floor(at.replace(tzinfo=UTC), bucket)].add(v, flag, right)
    return ShiftReport(
        since, until, camera, integrator, bucket, totals, tuple(sorted(periods.items()))
    )


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "-"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _scope(report: ShiftReport) -> str:
    parts = [
        f"camera {report.camera}" if report.camera else "every camera",
        f"integrator {report.integrator}" if report.integrator else "every integrator",
    ]
    return ", ".join(parts)


def _review_line(counts: Counts) -> str:
    if not counts.review_recorded:
        return "not recorded"
    line = f"{counts.needs_review} ({_percent(counts.needs_review, counts.review_recorded)})"
    if counts.review_recorded != counts.total:
        line += f" of the {counts.review_recorded} records that hold the flag"
    return line


def _corrected_line(counts: Counts) -> str:
    if not counts.corrected:
        return "0"
    to = ", ".join(f"{n} to {v.value}" for v, n in counts.corrected_to.items() if n)
    return f"{counts.corrected} ({_percent(counts.corrected, counts.total)}; {to})"


def to_markdown(report: ShiftReport) -> str:
    """The report as Markdown: the totals with shares, then one row per period."""
    t = report.totals
    out = [
        f"# Shift report: {_scope(report)}",
        "",
        f"From {_when(report.since)} to {_when(report.until)}: {t.total} verdicts.",
        "",
        "| verdict | count | share |",
        "|---|---:|---:|",
    ]
    out += [
        f"| {v.value} | {t.by_verdict[v]} | {_percent(t.by_verdict[v], t.total)} |" for v in Verdict
    ]
    out += [
        f"| all | {t.total} | {_percent(t.total, t.total)} |",
        "",
        f"* Needs review: {_review_line(t)}",
        f"* Corrected by an operator: {_corrected_line(t)}",
        "",
        f"## Per {report.bucket} (UTC)",
        "",
        f"| {report.bucket} | "
        + " | ".join(v.value for v in Verdict)
        + " | total | Unqualified share | needs review | corrected |",
        "|---|" + "---:|" * (len(Verdict) + 4),
    ]
    fmt = "%Y-%m-%d %H:%M" if report.bucket == "hour" else "%Y-%m-%d"
    for start, c in report.periods:
        review = str(c.needs_review) if c.review_recorded else "-"
        out.append(
            f"| {start.strftime(fmt)} | "
            + " | ".join(str(c.by_verdict[v]) for v in Verdict)
            + f" | {c.total} | {_percent(c.by_verdict[Verdict.UNQUALIFIED], c.total)}"
            + f" | {review} | {c.corrected} |"
        )
    return "\n".join(out) + "\n"


def _csv_row(label: str, c: Counts) -> Mapping[str, object]:
    return {
        "period_start": label,
        "qualified": c.by_verdict[Verdict.QUALIFIED],
        "unqualified": c.by_verdict[Verdict.UNQUALIFIED],
        "no_mine_detected": c.by_verdict[Verdict.NO_MINE_DETECTED],
        "total": c.total,
        "needs_review": c.needs_review,
        "review_recorded": c.review_recorded,
        "corrected": c.corrected,
    }


def to_csv(report: ShiftReport) -> str:
    """The report as CSV (:data:`CSV_COLUMNS`): one row per period (ISO 8601 UTC start), then a
    row ``total``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for start, counts in report.periods:
        writer.writerow(_csv_row(start.isoformat(), counts))
    writer.writerow(_csv_row("total", report.totals))
    return buffer.getvalue()
