"""Inspection records: every verdict kept with its provenance and photo, in SQLite (the
workspace's ``records.db``, the default) or PostgreSQL (``$LOADCHECK_DATABASE_URL``).

* :class:`InspectionRecord`, :class:`Provenance`, :class:`RecordQuery` — the typed payloads;
* :class:`RecordStore` — write, query (filters, paging), get, photo, purge (retention);
* :class:`RecordWriter` — a bounded background queue: ``submit()`` never blocks, dropped records
  are counted;
* :mod:`loadcheck.records.migrations` — the versioned schema, checked at every start.

See docs/records.md.
"""

from typing import TYPE_CHECKING, Any

from loadcheck.records.model import (
    InspectionRecord,
    Provenance,
    PurgeResult,
    RecordError,
    RecordPage,
    RecordQuery,
    TruckRecord,
)
from loadcheck.records.writer import RecordWriter, WriterStats

if TYPE_CHECKING:
    from loadcheck.records.store import DEFAULT_MAX_PHOTO_BYTES, RecordStore

__all__ = [
    "DEFAULT_MAX_PHOTO_BYTES",
    "InspectionRecord",
    "Provenance",
    "PurgeResult",
    "RecordError",
    "RecordPage",
    "RecordQuery",
    "RecordStore",
    "RecordWriter",
    "TruckRecord",
    "WriterStats",
]


def __getattr__(name: str) -> Any:
    # The store needs SQLAlchemy (the records extra): imported on first use, so that the
    # payloads, the writer and ``loadcheck --help`` work without it.
    if name in ("RecordStore", "DEFAULT_MAX_PHOTO_BYTES"):
        from loadcheck.records import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
