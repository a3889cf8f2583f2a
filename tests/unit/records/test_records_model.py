"""The records' typed payloads: what they accept, and errors that say what was expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from loadcheck.payloads import InspectionResult, LoadFeatures, TruckResult, Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordError, RecordQuery
from loadcheck.records.model import decode_cursor, encode_cursor

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def make(**changes: Any) -> InspectionRecord:
    fields: dict[str, Any] = {
        "at": T0,
        "integrator": "north_pit",
        "verdict": "Qualified",
        "probability": 0.8,
        "threshold": 0.5,
    }
    return InspectionRecord(**{**fields, **changes})


def test_a_record_is_built_from_an_inspection_result() -> None:
    features = LoadFeatures(("fullness", "solidity"), np.array([0.8, 0.9]), "lc-features-1")
    result = InspectionResult(
        Verdict.UNQUALIFIED,
        0.3,
        0.5,
        features=features,
        trucks=(TruckResult((1.0, 2.0, 3.0, 4.0), Verdict.UNQUALIFIED, 0.3),),
    )
    rec = InspectionRecord.from_result(
        result, integrator="north_pit", at=T0, camera="lane1", photo_sha256="e" * 64
    )
    assert (rec.verdict, rec.probability, rec.threshold) == (Verdict.UNQUALIFIED, 0.3, 0.5)
    assert rec.features == pytest.approx({"fullness": 0.8, "solidity": 0.9})
    assert rec.feature_spec_version == "lc-features-1"
    assert rec.trucks[0].bed_xyxy == (1.0, 2.0, 3.0, 4.0)
    assert rec.to_json()["trucks"][0]["verdict"] == "Unqualified"


def test_a_time_in_another_zone_is_stored_as_utc() -> None:
    plus_two = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = make(at=plus_two).at
    assert stored == datetime(2026, 12, 1, 8, 0, tzinfo=UTC) and stored.tzinfo is UTC


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"at": datetime(2026, 12, 1)}, "expected a timezone-aware datetime"),
        ({"verdict": "Full"}, "expected one of"),
        ({"probability": 1.5}, r"probability: expected a value in \[0, 1\]"),
        ({"threshold": float("nan")}, r"threshold: expected a value in \[0, 1\]"),
        ({"integrator": " "}, "integrator: expected a non-empty name"),
        ({"features": {"fullness": 0.5}}, "feature_spec_version: required"),
        ({"photo_sha256": "ABC"}, "photo_sha256: expected 64 lowercase hex digits"),
        ({"photo_stored": True}, "a record without photo_sha256 stores no photo"),
    ],
)
def test_a_bad_record_is_refused_with_what_was_expected(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        make(**changes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"networks": {"detector": "x"}}, "expected a lowercase hex SHA-256 per network"),
        ({"scorer_version": 0}, "scorer_version: expected >= 1"),
        ({"recorded_by": ""}, "recorded_by: expected a non-empty name"),
    ],
)
def test_bad_provenance_is_refused_with_what_was_expected(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        Provenance(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": T0, "until": T0}, "since .* must be before until"),
        ({"min_probability": 0.9, "max_probability": 0.1}, "is above max_probability"),
        ({"limit": 0}, "limit: expected 1 to 1000"),
        ({"after": "yesterday"}, "is not a cursor returned by a previous page"),
        ({"since": datetime(2026, 1, 1)}, "since: expected a timezone-aware datetime"),
        ({"verdict": "qualified"}, "expected one of"),
    ],
)
def test_a_bad_query_is_refused_with_what_was_expected(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        RecordQuery(**kwargs)


def test_a_cursor_reads_back_as_the_time_and_id_it_was_made_of() -> None:
    assert decode_cursor(encode_cursor(T0, 42)) == (T0, 42)
