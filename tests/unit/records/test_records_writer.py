"""The background writer: a record write never blocks or fails the caller; drops are counted."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, RecordQuery, RecordStore, RecordWriter
from loadcheck.records.engine import make_engine


def record(i: int = 0) -> InspectionRecord:
    return InspectionRecord(
        at=datetime(2026, 12, 1, 6, i % 60, tzinfo=UTC),
        integrator="north_pit",
        verdict=Verdict.QUALIFIED,
        probability=0.7,
        threshold=0.5,
    )


class BlockedSink:
    """A store that hangs on every write until released (a store that went away)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.added: list[InspectionRecord] = []

    def add(self, rec: InspectionRecord, photo: bytes | None = None) -> InspectionRecord:
        self.entered.set()
        self.release.wait()
        self.added.append(rec)
        return rec


class FailingSink:
    def add(self, rec: InspectionRecord, photo: bytes | None = None) -> InspectionRecord:
        raise ConnectionError("the database is down")


def test_a_full_queue_drops_records_and_counts_them_without_blocking() -> None:
    sink = BlockedSink()
    writer = RecordWriter(sink, queue_size=3)
    assert writer.submit(record(0))
    assert sink.entered.wait(10)  # the thread holds record 0; the queue is empty again
    queued = [writer.submit(record(i)) for i in range(1, 11)]  # would hang if submit blocked
    assert queued == [True] * 3 + [False] * 7
    stats = writer.stats
    assert (stats.submitted, stats.dropped_full, stats.queued) == (11, 7, 3)
    sink.release.set()
    final = writer.close()
    assert (final.written, final.dropped, final.queued) == (4, 7, 0)
    assert len(sink.added) == 4


def test_queued_photo_bytes_are_bounded_too() -> None:
    sink = BlockedSink()
    writer = RecordWriter(sink, queue_size=100, max_queued_bytes=10)
    assert writer.submit(record(0))  # taken by the thread at once
    assert sink.entered.wait(10)
    assert writer.submit(record(1), b"y" * 6)
    assert not writer.submit(record(2), b"z" * 6)  # 12 bytes would wait
    assert writer.submit(record(3), b"w" * 4)
    assert writer.submit(record(4))  # no photo: no bytes
    sink.release.set()
    stats = writer.close()
    assert (stats.written, stats.dropped_full) == (4, 1)


def test_failed_writes_are_counted_and_the_writer_goes_on() -> None:
    writer = RecordWriter(FailingSink(), queue_size=10)
    for i in range(5):
        assert writer.submit(record(i))
    stats = writer.close()
    assert (stats.submitted, stats.written, stats.dropped_failed, stats.dropped) == (5, 0, 5, 5)


def test_records_submitted_after_close_are_dropped_not_raised() -> None:
    sink = BlockedSink()
    sink.release.set()
    writer = RecordWriter(sink)
    writer.close()
    assert not writer.submit(record())
    assert writer.stats.dropped_full == 1 and sink.added == []


def test_a_database_that_went_down_drops_the_record_and_counts_it(tmp_path: Path) -> None:
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    # The database server goes away: nothing listens on port 1 of this machine.
    store.engine = make_engine(f"postgresql://loadcheck@127.0.0.1:{closed_port()}/records")
    try:
        with RecordWriter(store, queue_size=4) as writer:
            assert writer.submit(record(), b"photo")
        assert (writer.stats.written, writer.stats.dropped_failed) == (0, 1)
    finally:
        store.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_close_writes_everything_queued(tmp_path: Path) -> None:
    with RecordStore(f"sqlite:///{tmp_path / 'records.db'}") as store:
        writer = RecordWriter(store, queue_size=100)
        for i in range(50):
            writer.submit(record(i), f"photo {i % 7}".encode())
        stats = writer.close()
        assert (stats.written, stats.dropped) == (50, 0)
        assert store.count(RecordQuery()) == 50


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size: expected at least 1"):
        RecordWriter(FailingSink(), queue_size=0)
