"""The background writer: records are written off the request path, and never delay or fail it.

:meth:`RecordWriter.submit` puts the record on a bounded queue and returns at once; one thread
writes the queue to the store. When the queue is full (the store is slow or down) or a write
fails, the record is dropped and counted (:attr:`RecordWriter.stats`), and a warning is logged
at most once per :data:`WARN_EVERY_S` seconds. The verdict the plant gets is never touched.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol, cast

from loadcheck.records.model import InspectionRecord

LOGGER = logging.getLogger(__name__)

#: Records waiting for the store at most.
DEFAULT_QUEUE_SIZE = 256
#: Photo bytes waiting for the store at most (bounds the writer's memory when the store is down).
DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024
#: Seconds between two warnings about dropped records.
WARN_EVERY_S = 30.0


class RecordSink(Protocol):
    """What the writer needs of a store (:class:`~loadcheck.records.store.RecordStore`)."""

    def add(self, record: InspectionRecord, photo: bytes | None = None) -> InspectionRecord: ...


@dataclass(frozen=True)
class WriterStats:
    """Counters since the writer started.

    Attributes:
        submitted: records handed to :meth:`RecordWriter.submit`.
        written: records the store accepted.
        dropped_full: records dropped because the queue was full (records or photo bytes), or
            the writer was closed.
        dropped_failed: records dropped because the store's write failed.
        queued: records waiting now.
    """

    submitted: int
    written: int
    dropped_full: int
    dropped_failed: int
    queued: int

    @property
    def dropped(self) -> int:
        """Every record that was not stored."""
        return self.dropped_full + self.dropped_failed


_STOP = object()


class RecordWriter:
    """Writes submitted records to ``sink`` on one background thread.

    Args:
        sink: the store.
        queue_size: records that may wait; more are dropped (``submit`` never blocks).
        max_queued_bytes: photo bytes that may wait; a record whose photo would pass this is
            dropped too.

    Use as a context manager, or call :meth:`close` (it waits for the queue to drain).
    """

    def __init__(
        self,
        sink: RecordSink,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size: expected at least 1, got {queue_size}")
        if max_queued_bytes < 0:
            raise ValueError(f"max_queued_bytes: expected >= 0, got {max_queued_bytes}")
        self._max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0
        self._sink = sink
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._submitted = self._written = self._dropped_full = self._dropped_failed = 0
        self._last_warning = float("-inf")
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                self._submitted,
                self._written,
                self._dropped_full,
                self._dropped_failed,
                self._queue.qsize(),
            )

    def submit(self, record: InspectionRecord, photo: bytes | None = None) -> bool:
        """Queue ``record`` (and its photo) for writing; never blocks, never raises for a full
        queue or a closed writer. Returns whether it was queued (else it was counted dropped)."""
        with self._lock:
            self._submitted += 1
            size = len(photo) if photo is not None else 0
            if not self._closed and self._queued_bytes + size <= self._max_queued_bytes:
                try:
                    self._queue.put_nowait((record, photo))
                    self._queued_bytes += size
                    return True
                except queue.Full:
                    pass
            self._dropped_full += 1
        self._warn("record queue full (the store is slow or down)")
        return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            record, photo = cast(tuple[InspectionRecord, bytes | None], item)
            with self._lock:
                self._queued_bytes -= len(photo) if photo is not None else 0
            try:
                self._sink.add(record, photo)
            except Exception as exc:  # the store may fail in any way; the writer goes on
                with self._lock:
                    self._dropped_failed += 1
                self._warn(f"record write failed: {type(exc).__name__}: {exc}")
            else:
                with self._lock:
                    self._written += 1

    def _warn(self, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_warning < WARN_EVERY_S:
                return
            self._last_warning = now
            dropped = self._dropped_full + self._dropped_failed
        LOGGER.warning("inspection record dropped: %s; %d dropped so far", reason, dropped)

    def close(self, timeout_s: float = 30.0) -> WriterStats:
        """Stop taking records, write what is queued (up to ``timeout_s``), and return the
        final counters; records still queued after the timeout are not written."""
        with self._lock:
            already = self._closed
            self._closed = True
        deadline = time.monotonic() + timeout_s
        if not already:
            # Waits only for a slot, which the thread keeps freeing.
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout_s)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            LOGGER.warning(
                "record writer: %d records not written after %.0f s", self._queue.qsize(), timeout_s
            )
        return self.stats

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
