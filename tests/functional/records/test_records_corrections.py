"""Corrections of verdicts in the records store, the same tests on SQLite and PostgreSQL; and the
migration of a schema-1 database (before corrections) with its records kept."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, RecordError, RecordStore
from loadcheck.records.corrections import (
    correcting,
    corrections_for,
    count_corrections,
    get_correction,
)
from loadcheck.records.engine import make_engine
from loadcheck.records.migrations import current_version, migrate
from loadcheck.records.tables import SCHEMA_VERSION

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PHOTO = b"\xff\xd8\xff a truck photo"


def record(
    minutes: float = 0, verdict: Verdict = Verdict.UNQUALIFIED, integrator: str = "north_pit"
) -> InspectionRecord:
    return InspectionRecord(
        at=T0 + timedelta(minutes=minutes),
        integrator=integrator,
        verdict=verdict,
        probability=0.3,
        threshold=0.5,
        camera="lane1",
    )


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    with RecordStore(database_url) as s:
        yield s


def test_a_correction_is_stored_with_who_when_and_both_labels(store: RecordStore) -> None:
    kept = store.add(record(), PHOTO)
    assert kept.record_id is not None
    at = T0 + timedelta(hours=3)
    with correcting(store, kept.record_id, "Qualified", "console:alice", now=at) as change:
        assert change.previous is None and change.changed
        assert change.photo == PHOTO and change.record == kept
    got = get_correction(store, kept.record_id)
    assert got is not None
    assert (got.verdict, got.label) == (Verdict.UNQUALIFIED, Verdict.QUALIFIED)
    assert (got.corrected_by, got.corrected_at, got.revision) == ("console:alice", at, 1)
    assert got.first_corrected_at == at and got.photo_sha256 == kept.photo_sha256
    assert count_corrections(store) == 1 and count_corrections(store, "other") == 0


def test_correcting_again_updates_the_one_row(store: RecordStore) -> None:
    kept = store.add(record(verdict=Verdict.NO_MINE_DETECTED), PHOTO)
    rid = kept.record_id
    assert rid is not None
    with correcting(store, rid, Verdict.QUALIFIED, "alice", now=T0):
        pass
    with correcting(store, rid, Verdict.UNQUALIFIED, "bob", now=T0 + timedelta(hours=1)) as change:
        assert change.previous is not None and change.previous.label == Verdict.QUALIFIED
    got = get_correction(store, rid)
    assert got is not None
    assert (got.label, got.corrected_by, got.revision) == (Verdict.UNQUALIFIED, "bob", 2)
    assert got.first_corrected_at == T0 and got.corrected_at == T0 + timedelta(hours=1)
    # the same label again changes nothing
    with correcting(store, rid, Verdict.UNQUALIFIED, "carol", now=T0 + timedelta(hours=2)) as same:
        assert not same.changed
    again = get_correction(store, rid)
    assert again == got
    assert count_corrections(store) == 1


def test_a_failing_block_leaves_no_correction(store: RecordStore) -> None:
    kept = store.add(record(), PHOTO)
    assert kept.record_id is not None
    with (
        pytest.raises(OSError, match="fitting data unavailable"),
        correcting(store, kept.record_id, "Qualified", "alice"),
    ):
        raise OSError("fitting data unavailable")
    assert get_correction(store, kept.record_id) is None


@pytest.mark.parametrize(
    ("photo", "cap", "label", "message"),
    [
        (None, 1 << 20, "Qualified", "the record has no photo"),
        (b"x" * 100, 10, "Qualified", "its photo is not kept"),
        (PHOTO, 1 << 20, "Unqualified", "its verdict is already Unqualified"),
        (PHOTO, 1 << 20, "No Mine Detected", "expected one of \\['Qualified', 'Unqualified'\\]"),
        (PHOTO, 1 << 20, "Full", "expected one of"),
    ],
)
def test_corrections_that_cannot_be_made_are_refused_with_the_reason(
    database_url: str, photo: bytes | None, cap: int, label: str, message: str
) -> None:
    with RecordStore(database_url, max_photo_bytes=cap) as store:
        kept = store.add(record(), photo)
        assert kept.record_id is not None
        with (
            pytest.raises(RecordError, match=message),
            correcting(store, kept.record_id, label, "alice"),
        ):
            pass
        assert get_correction(store, kept.record_id) is None


def test_a_record_that_does_not_exist_cannot_be_corrected(store: RecordStore) -> None:
    with (
        pytest.raises(KeyError, match="no inspection record with id 999"),
        correcting(store, 999, "Qualified", "alice"),
    ):
        pass


def test_corrections_of_a_page_are_read_in_one_call(store: RecordStore) -> None:
    ids = [store.add(record(i), PHOTO + bytes([i])).record_id for i in range(4)]
    for rid in ids[1:3]:
        assert rid is not None
        with correcting(store, rid, "Qualified", "alice"):
            pass
    found = corrections_for(store, [i for i in ids if i is not None])
    assert sorted(found) == sorted(ids[1:3])


def test_a_schema_1_database_is_migrated_to_corrections_with_its_records_kept(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate(engine, target=1) == [1]
        with engine.begin() as conn:
            assert not sa.inspect(conn).has_table("record_corrections")
            conn.execute(
                sa.text(
                    "INSERT INTO record_photos (sha256, size_bytes, content, first_used_at, "
                    "last_used_at) VALUES (:sha, :n, :content, :at, :at)"
                ),
                {"sha": "d" * 64, "n": 5, "content": b"photo", "at": datetime(2026, 11, 1)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO inspection_records (at, camera, integrator, networks, verdict, "
                    "probability, threshold, trucks, photo_sha256, recorded_by) VALUES "
                    "(:at, 'lane1', 'north_pit', '{}', 'Unqualified', 0.2, 0.5, '[]', :sha, "
                    "'gateway')"
                ),
                {"at": datetime(2026, 11, 1), "sha": "d" * 64},
            )
    finally:
        engine.dispose()
    with RecordStore(database_url) as store:
        with store.engine.connect() as conn:
            assert current_version(conn) == SCHEMA_VERSION == 2
        (old,) = store.query().records
        assert old.integrator == "north_pit" and old.photo_stored
        assert old.record_id is not None
        with correcting(store, old.record_id, "Qualified", "alice") as change:
            assert change.photo == b"photo"
        got = get_correction(store, old.record_id)
        assert got is not None and got.label == Verdict.QUALIFIED


def test_two_operators_correcting_one_record_at_once_are_serialised(store: RecordStore) -> None:
    kept = store.add(record(verdict=Verdict.NO_MINE_DETECTED), PHOTO)
    rid = kept.record_id
    assert rid is not None
    start = threading.Barrier(2)
    seen: dict[str, Verdict | None] = {}
    errors: list[BaseException] = []

    def correct(actor: str, label: Verdict) -> None:
        try:
            start.wait()
            with correcting(store, rid, label, actor) as change:
                seen[actor] = change.previous.label if change.previous else None
                time.sleep(0.2)  # the other operator arrives while this one holds the record
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=correct, args=("alice", Verdict.QUALIFIED)),
        threading.Thread(target=correct, args=("bob", Verdict.UNQUALIFIED)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # one saw no correction, the other saw the first one's label: never both None
    labels = {"alice": Verdict.QUALIFIED, "bob": Verdict.UNQUALIFIED}
    (first,) = [actor for actor, previous in seen.items() if previous is None]
    (second,) = [actor for actor in labels if actor != first]
    assert seen[second] == labels[first]
    final = get_correction(store, rid)
    assert final is not None and final.revision == 2
    assert (final.corrected_by, final.label) == (second, labels[second])
