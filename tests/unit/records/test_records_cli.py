"""``loadcheck records list|show|purge`` on the workspace's SQLite records."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordQuery, RecordStore

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with 6 records: days 0-5 ago, alternating verdicts, cameras lane1/lane2."""
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    folder = tmp_path / "ws"
    with RecordStore(home=folder) as store:
        for day in range(6):
            store.add(
                InspectionRecord(
                    at=NOW - timedelta(days=day),
                    integrator="north_pit",
                    camera="lane1" if day < 3 else "lane2",
                    verdict=Verdict.QUALIFIED if day % 2 == 0 else Verdict.UNQUALIFIED,
                    probability=0.9 if day % 2 == 0 else 0.2,
                    threshold=0.5,
                    feature_spec_version="lc-features-1",
                    features={"fullness": day / 10},
                    provenance=Provenance(recorded_by="test", source=f"day{day}.jpg"),
                ),
                f"photo of day {day}".encode(),
            )
    return folder


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["records", "--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_filters_and_prints_json(home: Path) -> None:
    code, out, err = run(home, "list", "--verdict", "Unqualified", "--format", "json")
    assert code == 0, err
    assert [r["provenance"]["source"] for r in json.loads(out)] == [
        "day1.jpg",
        "day3.jpg",
        "day5.jpg",
    ]
    assert "3 of 3 matching records" in err


def test_list_pages_with_the_printed_cursor(home: Path) -> None:
    code, out, err = run(home, "list", "--limit", "4", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 4
    cursor = err.split("--after ")[1].split()[0]
    code, out, err = run(home, "list", "--limit", "4", "--format", "json", "--after", cursor)
    assert [r["provenance"]["source"] for r in json.loads(out)] == ["day4.jpg", "day5.jpg"]
    assert "next page" not in err


def test_list_as_csv_has_a_column_per_feature(home: Path) -> None:
    since = (NOW - timedelta(days=2, hours=1)).isoformat()
    code, out, _ = run(home, "list", "--camera", "lane1", "--since", since, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [(r["source"], r["verdict"], r["feature:fullness"]) for r in rows] == [
        ("day0.jpg", "Qualified", "0"),
        ("day1.jpg", "Unqualified", "0.1"),
        ("day2.jpg", "Qualified", "0.2"),
    ]


def test_show_prints_the_record_and_writes_its_photo(home: Path, tmp_path: Path) -> None:
    with RecordStore(home=home) as store:
        newest = store.query(RecordQuery(limit=1)).records[0]
    target = tmp_path / "out.jpg"
    code, out, err = run(home, "show", str(newest.record_id), "--photo", str(target))
    assert code == 0, err
    assert json.loads(out)["provenance"]["source"] == "day0.jpg"
    assert json.loads(out)["correction"] is None
    assert target.read_bytes() == b"photo of day 0"


def test_show_prints_the_records_correction(home: Path) -> None:
    from loadcheck.records.corrections import correcting

    with RecordStore(home=home) as store:
        newest = store.query(RecordQuery(limit=1)).records[0]
        assert newest.record_id is not None and newest.verdict == Verdict.QUALIFIED
        with correcting(store, newest.record_id, "Unqualified", "console:alice"):
            pass
    code, out, err = run(home, "show", str(newest.record_id))
    assert code == 0, err
    shown = json.loads(out)["correction"]
    assert (shown["verdict"], shown["label"], shown["corrected_by"], shown["revision"]) == (
        "Qualified",
        "Unqualified",
        "console:alice",
        1,
    )


def test_purge_deletes_records_past_the_retention_period(home: Path) -> None:
    code, out, err = run(home, "purge", "--older-than-days", "3.5")
    assert code == 0, err
    assert "purged 2 records and 2 photos" in out
    code, out, _ = run(home, "list", "--format", "json")
    assert [r["provenance"]["source"] for r in json.loads(out)] == [f"day{d}.jpg" for d in range(4)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge"], "give --older-than-days and/or --photos-older-than-days"),
        (["list", "--since", "yesterday"], "--since: expected an ISO 8601 date or time"),
        (["list", "--min-probability", "0.8", "--max-probability", "0.2"], "is above"),
        (["list", "--after", "garbage"], "is not a cursor returned by a previous page"),
        (["show", "999"], "no inspection record with id 999"),
        (["--database", "oracle://x/y", "list"], "runs on sqlite or postgresql, not oracle"),
    ],
)
def test_bad_options_exit_2_with_what_was_expected(
    home: Path, args: list[str], message: str
) -> None:
    code, _, err = run(home, *args)
    assert code == 2
    assert message in err
