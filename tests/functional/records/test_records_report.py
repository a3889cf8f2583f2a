"""``loadcheck report`` on a store filled with known records, on SQLite and PostgreSQL: counts,
shares, needs-review (where recorded), corrections, per hour and per day, Markdown and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordError, RecordStore
from loadcheck.records.corrections import correcting
from loadcheck.records.report import build_report, to_csv, to_markdown

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
Q, U, N = Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED

#: (minutes after 06:00, verdict, needs_review, camera, integrator)
ROWS = [
    (5, Q, False, "lane1", "north_pit"),
    (10, Q, False, "lane1", "north_pit"),
    (20, Q, False, "lane1", "north_pit"),
    (50, U, True, "lane1", "north_pit"),  # corrected to Qualified below
    (125, U, True, "lane1", "north_pit"),
    (130, U, None, "lane1", "north_pit"),  # a record without the flag
    (140, N, False, "lane1", "north_pit"),
    (200, Q, True, "lane1", "north_pit"),
    # outside the shift, another camera, another integrator: never counted
    (-1, U, True, "lane1", "north_pit"),
    (240, U, True, "lane1", "north_pit"),
    (30, U, True, "lane2", "north_pit"),
    (30, U, True, "lane1", "south_pit"),
]
SHIFT_END = T0 + timedelta(hours=4)


@pytest.fixture
def store(database_url: str) -> RecordStore:
    store = RecordStore(database_url)
    ids = []
    for i, (minutes, verdict, review, camera, integrator) in enumerate(ROWS):
        record = store.add(
            InspectionRecord(
                at=T0 + timedelta(minutes=minutes),
                integrator=integrator,
                verdict=verdict,
                probability=0.9 if verdict is Q else 0.1,
                threshold=0.5,
                camera=camera,
                needs_review=review,
                provenance=Provenance(recorded_by="gateway", source=f"r{i}"),
            ),
            f"photo {i}".encode(),
        )
        ids.append(record.record_id)
    with correcting(store, ids[3], Q, "operator") as change:
        assert change.changed
    return store


def test_the_shift_counts_per_verdict_review_and_correction(store: RecordStore) -> None:
    report = build_report(store, since=T0, until=SHIFT_END, camera="lane1", integrator="north_pit")
    t = report.totals
    assert t.by_verdict == {Q: 4, U: 3, N: 1} and t.total == 8
    assert t.share(U) == pytest.approx(3 / 8)
    assert (t.needs_review, t.review_recorded) == (3, 7)
    assert t.corrected == 1 and t.corrected_to == {Q: 1, U: 0}
    assert report.bucket == "hour"
    hours = {start.hour: c for start, c in report.periods}
    assert list(hours) == [6, 7, 8, 9], "every hour of the shift, empty ones included"
    assert hours[6].by_verdict == {Q: 3, U: 1, N: 0} and hours[6].corrected == 1
    assert hours[7].total == 0
    assert hours[8].by_verdict == {Q: 0, U: 2, N: 1}
    assert (hours[8].needs_review, hours[8].review_recorded) == (1, 2)
    assert hours[9].by_verdict == {Q: 1, U: 0, N: 0} and hours[9].needs_review == 1


def test_filters_select_the_camera_or_the_integrator(store: RecordStore) -> None:
    every_camera = build_report(store, since=T0, until=SHIFT_END, integrator="north_pit")
    assert every_camera.totals.total == 9
    every_integrator = build_report(store, since=T0, until=SHIFT_END, camera="lane1")
    assert every_integrator.totals.total == 9
    both = build_report(store, since=T0 - timedelta(hours=1), until=SHIFT_END + timedelta(hours=1))
    assert both.totals.total == len(ROWS)


def test_per_day_and_the_renderings(store: RecordStore) -> None:
    report = build_report(
        store, since=T0, until=SHIFT_END, camera="lane1", integrator="north_pit", bucket="day"
    )
    ((day, counts),) = report.periods
    assert day == datetime(2026, 12, 1, tzinfo=UTC) and counts.total == 8
    text = to_markdown(report)
    assert "# Shift report: camera lane1, integrator north_pit" in text
    assert "| Unqualified | 3 | 37.5 % |" in text
    assert "Needs review: 3 (42.9 %) of the 7 records that hold the flag" in text
    assert "Corrected by an operator: 1 (12.5 %; 1 to Qualified)" in text
    assert "| 2026-12-01 | 4 | 3 | 1 | 8 | 37.5 % | 3 | 1 |" in text
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert rows == [
        {
            "period_start": "2026-12-01T00:00:00+00:00",
            "qualified": "4",
            "unqualified": "3",
            "no_mine_detected": "1",
            "total": "8",
            "needs_review": "3",
            "review_recorded": "7",
            "corrected": "1",
        },
        {**rows[0], "period_start": "total"},
    ]


def test_an_empty_shift_and_bad_ranges(store: RecordStore) -> None:
    empty = build_report(store, since=T0 + timedelta(days=3), until=T0 + timedelta(days=3, hours=2))
    assert empty.totals.total == 0 and len(empty.periods) == 2
    assert "Needs review: not recorded" in to_markdown(empty)
    with pytest.raises(RecordError, match="before"):
        build_report(store, since=SHIFT_END, until=T0)
    with pytest.raises(RecordError, match="timezone-aware"):
        build_report(store, since=T0.replace(tzinfo=None), until=SHIFT_END)
    with pytest.raises(RecordError, match="at most"):
        build_report(store, since=T0 - timedelta(days=400), until=T0, bucket="hour")


def test_the_command_writes_markdown_and_csv(
    store: RecordStore, database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["report", "--database", database_url, "--camera", "lane1", "-i", "north_pit"]
    shift = ["--from", "2026-12-01T08:00+02:00", "--to", "2026-12-01T10:00"]  # 06:00 UTC
    md = runner.invoke(app, [*base, *shift])
    assert md.exit_code == 0, md.output
    assert "From 2026-12-01 06:00 UTC to 2026-12-01 10:00 UTC: 8 verdicts." in md.output
    out = tmp_path / "reports" / "shift.csv"
    as_csv = runner.invoke(app, [*base, *shift, "--format", "csv", "--by", "day", "-o", str(out)])
    assert as_csv.exit_code == 0, as_csv.output
    (total,) = [r for r in csv.DictReader(out.open()) if r["period_start"] == "total"]
    assert total["total"] == "8" and total["corrected"] == "1"
    bad = runner.invoke(app, [*base, "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.output
    backwards = runner.invoke(app, [*base, "--from", "2026-12-02", "--to", "2026-12-01"])
    assert backwards.exit_code == 2 and "before" in backwards.output
