"""The Inspections page's queries on SQLite and PostgreSQL: the filter choices, the daily verdict
shares per camera, and every record of a filter (past one page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loadcheck.console.inspections import (
    NO_CAMERA,
    daily_verdicts,
    filter_choices,
    iter_records,
)
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, RecordQuery, RecordStore

T0 = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    with RecordStore(database_url) as s:
        # day 1 (22:00-23:59): lane1 Q, Q, U; day 2 (00:00 on): lane1 U, lane2 Q; no camera: U
        plan = [
            (0, "lane1", Verdict.QUALIFIED),
            (30, "lane1", Verdict.QUALIFIED),
            (90, "lane1", Verdict.UNQUALIFIED),
            (150, "lane1", Verdict.UNQUALIFIED),
            (160, "lane2", Verdict.QUALIFIED),
            (170, None, Verdict.UNQUALIFIED),
        ]
        for minutes, camera, verdict in plan:
            s.add(
                InspectionRecord(
                    at=T0 + timedelta(minutes=minutes),
                    integrator="north_pit" if camera else "south_pit",
                    verdict=verdict,
                    probability=0.8 if verdict == Verdict.QUALIFIED else 0.2,
                    threshold=0.5,
                    camera=camera,
                )
            )
        yield s


def test_daily_verdict_shares_are_per_utc_day_and_camera(store: RecordStore) -> None:
    rows = daily_verdicts(store, RecordQuery())
    got = {(r["day"], r["camera"], r["verdict"]): (r["count"], r["share"]) for r in rows}
    assert got == {
        ("2026-12-01", "lane1", "Qualified"): (2, pytest.approx(2 / 3)),
        ("2026-12-01", "lane1", "Unqualified"): (1, pytest.approx(1 / 3)),
        ("2026-12-02", "lane1", "Unqualified"): (1, 1.0),
        ("2026-12-02", "lane2", "Qualified"): (1, 1.0),
        ("2026-12-02", NO_CAMERA, "Unqualified"): (1, 1.0),
    }
    only_lane2 = daily_verdicts(store, RecordQuery(camera="lane2"))
    assert [(r["day"], r["camera"], r["count"]) for r in only_lane2] == [("2026-12-02", "lane2", 1)]


def test_filter_choices_name_the_cameras_and_integrators(store: RecordStore) -> None:
    choices = filter_choices(store)
    assert choices.cameras == ("lane1", "lane2")
    assert choices.integrators == ("north_pit", "south_pit")


def test_every_record_of_a_filter_is_read_past_one_page(store: RecordStore) -> None:
    everything = list(iter_records(store, RecordQuery(limit=2)))
    assert len(everything) == 6
    assert [r.at for r in everything] == sorted((r.at for r in everything), reverse=True)
    assert len(list(iter_records(store, RecordQuery(camera="lane1"), limit=3))) == 3
