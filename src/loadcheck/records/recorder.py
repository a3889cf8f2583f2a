"""Recording verdicts as they are given: a store, a background writer, and the record of one
inspection result — what ``loadcheck inspect --record`` uses, and what the gateway calls."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from loadcheck.payloads import InspectionResult
from loadcheck.records.model import InspectionRecord, Provenance
from loadcheck.records.writer import DEFAULT_QUEUE_SIZE, RecordSink, RecordWriter, WriterStats

LOGGER = logging.getLogger(__name__)


class Recorder:
    """Submits one record per verdict to a :class:`RecordWriter` over ``sink``.

    Args:
        sink: the store (:class:`~loadcheck.records.store.RecordStore`).
        recorded_by: who records (``inspect``, ``gateway``), kept in each record's provenance.
        camera: the camera's name, when the caller knows it.
        provenance: scorer version, repository build and network card hashes, when the caller
            knows them (``recorded_by`` and ``source`` are set per record).
        queue_size: records that may wait for the store.
        close_sink: close ``sink`` (its ``close()``) when the recorder closes.
    """

    def __init__(
        self,
        sink: RecordSink,
        *,
        recorded_by: str,
        camera: str | None = None,
        provenance: Provenance | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        close_sink: bool = False,
    ) -> None:
        self._sink = sink
        self._close_sink = close_sink
        self.recorded_by = recorded_by
        self.camera = camera
        self.provenance = provenance or Provenance(recorded_by=recorded_by)
        self.writer = RecordWriter(sink, queue_size=queue_size)

    def record(
        self,
        result: InspectionResult,
        photo: bytes | None,
        *,
        integrator: str,
        source: str | None = None,
        camera: str | None = None,
        at: datetime | None = None,
        needs_review: bool | None = None,
        provenance: Provenance | None = None,
    ) -> bool:
        """Queue the record of ``result`` (and its photo); never blocks or raises for the store.
        ``provenance`` replaces the recorder's for this record (a gateway serving several
        integrators knows each one's scorer version). Returns whether it was queued (a full
        queue drops it, and counts it)."""
        base = provenance or self.provenance
        record = InspectionRecord.from_result(
            result,
            integrator=integrator,
            at=at or datetime.now(UTC),
            camera=camera or self.camera,
            needs_review=needs_review,
            provenance=Provenance(
                scorer_version=base.scorer_version,
                repository_build=base.repository_build,
                networks=base.networks,
                recorded_by=self.recorded_by,
                source=source,
            ),
        )
        return self.writer.submit(record, photo)

    @property
    def stats(self) -> WriterStats:
        return self.writer.stats

    def close(self, timeout_s: float = 30.0) -> WriterStats:
        """Write what is queued (up to ``timeout_s``) and return the counters."""
        stats = self.writer.close(timeout_s)
        close = getattr(self._sink, "close", None)
        if self._close_sink and close is not None and stats.queued == 0:
            close()
        return stats


def open_recorder(
    database: str | None,
    home: Path | str | None,
    *,
    recorded_by: str,
    camera: str | None = None,
    provenance: Provenance | None = None,
) -> Recorder:
    """A :class:`Recorder` over the store at ``database`` (else ``$LOADCHECK_DATABASE_URL``,
    else SQLite in ``home``). Raises what :class:`RecordStore` raises when it cannot open."""
    from loadcheck.records.store import RecordStore

    store = RecordStore(database, home=home)
    LOGGER.info("recording inspections in %s", store)
    return Recorder(
        store, recorded_by=recorded_by, camera=camera, provenance=provenance, close_sink=True
    )
