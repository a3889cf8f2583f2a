"""The records store, the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from loadcheck.imageio import sha256_bytes
from loadcheck.payloads import Verdict
from loadcheck.records import (
    InspectionRecord,
    Provenance,
    RecordError,
    RecordQuery,
    RecordStore,
    TruckRecord,
)
from loadcheck.records.engine import make_engine
from loadcheck.records.migrations import MIGRATIONS, Migration, SchemaError, migrate
from loadcheck.records.tables import SCHEMA_VERSION, metadata

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
CARD = "a" * 64


def make_record(
    minutes: float = 0,
    *,
    integrator: str = "north_pit",
    camera: str | None = "lane1",
    verdict: Verdict = Verdict.QUALIFIED,
    probability: float = 0.9,
) -> InspectionRecord:
    return InspectionRecord(
        at=T0 + timedelta(minutes=minutes),
        integrator=integrator,
        verdict=verdict,
        probability=probability,
        threshold=0.5,
        camera=camera,
        needs_review=False,
        feature_spec_version="lc-features-1",
        features={"fullness": 0.82, "roughness_pits": 2.0},
        trucks=(TruckRecord((10.0, 20.0, 300.5, 200.0), verdict, probability),),
        provenance=Provenance(
            scorer_version=3,
            repository_build="build-7",
            networks={"detector": CARD, "sam_encoder": "b" * 64},
            recorded_by="test",
            source="photos/truck14.jpg",
        ),
    )


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    with RecordStore(database_url) as s:
        yield s


def test_a_new_database_is_migrated_to_the_tables_the_code_queries(database_url: str) -> None:
    with RecordStore(database_url) as store:
        inspector = sa.inspect(store.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == set(table.columns.keys()), table.name
        with store.engine.connect() as conn:
            versions = (
                conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))
                .scalars()
                .all()
            )
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    # Opening again applies nothing and keeps one row per version.
    engine = make_engine(database_url)
    try:
        assert migrate(engine) == []
    finally:
        engine.dispose()


def test_a_database_newer_than_the_code_is_refused(database_url: str) -> None:
    RecordStore(database_url).close()
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES (99, 'from the future', :at)"
                ),
                {"at": datetime(2030, 1, 1)},
            )
    finally:
        engine.dispose()
    with pytest.raises(SchemaError, match="schema version 99, newer than this loadcheck"):
        RecordStore(database_url)


def test_a_previous_schema_is_migrated_forward_with_its_records_kept(database_url: str) -> None:
    with RecordStore(database_url) as store:
        kept = store.add(make_record())

    def add_operator_note(conn: sa.Connection) -> None:
        conn.execute(sa.text("ALTER TABLE inspection_records ADD COLUMN operator_note TEXT"))

    steps = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "operator note", add_operator_note))
    engine = make_engine(database_url)
    try:
        assert migrate(engine, steps) == [len(MIGRATIONS) + 1]
        assert migrate(engine, steps) == []
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT integrator, operator_note FROM inspection_records WHERE id = :i"),
                {"i": kept.record_id},
            ).one()
        assert tuple(row) == ("north_pit", None)
    finally:
        engine.dispose()


def test_a_record_reads_back_as_written(store: RecordStore) -> None:
    photo = b"\xff\xd8 a jpeg's bytes"
    written = store.add(make_record(), photo)
    assert written.record_id is not None
    assert written.photo_sha256 == sha256_bytes(photo) and written.photo_stored
    read = store.get(written.record_id)
    assert read == written
    assert read.at == T0 and read.at.tzinfo is not None
    assert read.provenance.networks == {"detector": CARD, "sam_encoder": "b" * 64}
    assert store.photo(written.photo_sha256) == photo
    with pytest.raises(KeyError, match="no inspection record"):
        store.get(written.record_id + 1000)


def test_a_photo_is_stored_once_however_many_records_refer_to_it(store: RecordStore) -> None:
    photo = b"same photo"
    first = store.add(make_record(0), photo)
    second = store.add(make_record(1), photo)
    assert first.photo_sha256 == second.photo_sha256
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM record_photos")).scalar() == 1


def test_a_photo_over_the_size_cap_is_not_kept_but_its_hash_is(database_url: str) -> None:
    with RecordStore(database_url, max_photo_bytes=10) as store:
        big = store.add(make_record(), b"x" * 11)
        small = store.add(make_record(1), b"y" * 10)
        assert big.photo_sha256 == sha256_bytes(b"x" * 11)
        assert not big.photo_stored and small.photo_stored
        assert big.record_id is not None
        assert not store.get(big.record_id).photo_stored
        with pytest.raises(KeyError, match="not kept"):
            store.photo(sha256_bytes(b"x" * 11))


def test_a_photo_with_another_hash_than_the_records_is_refused(store: RecordStore) -> None:
    record = InspectionRecord(
        at=T0,
        integrator="north_pit",
        verdict=Verdict.QUALIFIED,
        probability=0.9,
        threshold=0.5,
        photo_sha256="c" * 64,
    )
    with pytest.raises(RecordError, match="is not the SHA-256 of the photo"):
        store.add(record, b"other bytes")


@pytest.fixture
def filled(store: RecordStore) -> RecordStore:
    """12 records, one a minute: integrators a/b, cameras lane1/lane2, three verdicts."""
    verdicts = [Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED]
    for i in range(12):
        store.add(
            make_record(
                i,
                integrator="a" if i % 2 == 0 else "b",
                camera="lane1" if i < 6 else "lane2",
                verdict=verdicts[i % 3],
                probability=i / 11,
            )
        )
    return store


def _minutes(store: RecordStore, query: RecordQuery) -> list[int]:
    return [int((r.at - T0).total_seconds() // 60) for r in store.query(query).records]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RecordQuery(), list(range(11, -1, -1))),
        (RecordQuery(integrator="a"), [10, 8, 6, 4, 2, 0]),
        (RecordQuery(integrator="b", camera="lane1"), [5, 3, 1]),
        (RecordQuery(verdict=Verdict.UNQUALIFIED), [10, 7, 4, 1]),
        (RecordQuery(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=6)), [5, 4, 3]),
        (RecordQuery(min_probability=0.5, max_probability=0.8), [8, 7, 6]),
        (RecordQuery(camera="lane2", verdict=Verdict.QUALIFIED, min_probability=0.8), [9]),
        (RecordQuery(camera="lane9"), []),
    ],
)
def test_queries_filter_by_integrator_camera_verdict_time_and_probability(
    filled: RecordStore, query: RecordQuery, expected: list[int]
) -> None:
    assert _minutes(filled, query) == expected
    assert filled.count(query) == len(expected)


def test_paging_returns_every_record_once_newest_first(filled: RecordStore) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = filled.query(RecordQuery(limit=5, after=cursor))
        seen += [r.record_id for r in page.records if r.record_id is not None]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    all_ids = [r.record_id for r in filled.query(RecordQuery(limit=100)).records]
    assert seen == all_ids and len(set(seen)) == 12


def test_paging_keeps_records_with_the_same_time_apart(store: RecordStore) -> None:
    ids = {store.add(make_record(0)).record_id for _ in range(5)}
    first = store.query(RecordQuery(limit=3))
    second = store.query(RecordQuery(limit=3, after=first.next_cursor))
    got = [r.record_id for r in (*first.records, *second.records)]
    assert set(got) == ids and len(got) == 5 and second.next_cursor is None


def test_purge_deletes_old_records_and_photos_no_kept_record_uses(store: RecordStore) -> None:
    now = T0 + timedelta(days=100)
    old_only = store.add(make_record(0), b"old photo")
    store.add(make_record(1), b"shared photo")
    recent = store.add(make_record(60 * 24 * 95), b"shared photo")
    result = store.purge(records_older_than=timedelta(days=30), now=now)
    assert (result.records_deleted, result.photos_deleted) == (2, 1)
    assert result.photo_bytes_deleted == len(b"old photo")
    assert [r.record_id for r in store.query().records] == [recent.record_id]
    assert old_only.photo_sha256 is not None
    with pytest.raises(KeyError):
        store.photo(old_only.photo_sha256)
    assert store.photo(sha256_bytes(b"shared photo")) == b"shared photo"


def test_photos_can_be_kept_for_less_time_than_their_records(store: RecordStore) -> None:
    now = T0 + timedelta(days=40)
    old = store.add(make_record(0), b"photo of day 0")
    new = store.add(make_record(60 * 24 * 35), b"photo of day 35")
    result = store.purge(
        records_older_than=timedelta(days=365), photos_older_than=timedelta(days=30), now=now
    )
    assert (result.records_deleted, result.photos_deleted) == (0, 1)
    assert old.record_id is not None and new.record_id is not None
    kept_old = store.get(old.record_id)
    assert kept_old.photo_sha256 == old.photo_sha256 and not kept_old.photo_stored
    assert store.get(new.record_id).photo_stored


def test_purge_refuses_a_period_that_is_not_positive(store: RecordStore) -> None:
    with pytest.raises(RecordError, match="expected a positive period"):
        store.purge(records_older_than=timedelta(0))
