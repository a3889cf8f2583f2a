"""The records store: write, query and purge inspection records on SQLite or PostgreSQL.

Photos are kept in the database (table ``record_photos``), content-addressed by SHA-256: one
row per distinct photo however many records point at it, no shared folder between gateway
replicas, and a record and its photo are written in one transaction. A photo over the size cap
is not kept (the record keeps its SHA-256). ``last_used_at`` of a photo is the newest ``at`` of
the records that refer to it; :meth:`RecordStore.purge` deletes photos by it, which needs no
look-up of other rows and so cannot race with a writer that is adding a record for the photo.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from loadcheck.imageio import sha256_bytes
from loadcheck.payloads import Verdict
from loadcheck.records.engine import database_url, make_engine, redact
from loadcheck.records.migrations import migrate
from loadcheck.records.model import (
    InspectionRecord,
    Provenance,
    PurgeResult,
    RecordError,
    RecordPage,
    RecordQuery,
    TruckRecord,
    decode_cursor,
    encode_cursor,
    utc,
)
from loadcheck.records.tables import photos, records

LOGGER = logging.getLogger(__name__)

#: Largest photo kept, in bytes (a loading-point camera's JPEG is 0.3-3 MB).
DEFAULT_MAX_PHOTO_BYTES = 16 * 1024 * 1024


def _naive(moment: datetime) -> datetime:
    return utc(moment, "time").replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


class RecordStore:
    """Inspection records in the database at ``url`` (see :func:`database_url`); migrates the
    schema on open.

    Args:
        url: a SQLAlchemy URL; ``None``: ``$LOADCHECK_DATABASE_URL``, else SQLite in ``home``.
        home: the workspace folder for the SQLite default (``$LOADCHECK_HOME``).
        max_photo_bytes: photos larger than this are not kept (the record is).

    Raises:
        RecordError: a bad URL; SchemaError: a database newer than this code;
        sqlalchemy.exc.OperationalError: the database cannot be reached.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        home: Path | str | None = None,
        max_photo_bytes: int = DEFAULT_MAX_PHOTO_BYTES,
    ) -> None:
        if max_photo_bytes < 0:
            raise RecordError(f"max_photo_bytes: expected >= 0, got {max_photo_bytes}")
        self.url = database_url(url, home)
        self.max_photo_bytes = max_photo_bytes
        self.engine = make_engine(self.url)
        migrate(self.engine)

    def __repr__(self) -> str:
        return f"RecordStore({redact(self.url)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def add(self, record: InspectionRecord, photo: bytes | None = None) -> InspectionRecord:
        """Store ``record`` (and ``photo``, whose SHA-256 it gets); returns it with its id.

        Raises:
            RecordError: ``photo`` given with another ``photo_sha256`` than its own.
        """
        sha = record.photo_sha256
        keep_photo = False
        if photo is not None:
            digest = sha256_bytes(photo)
            if sha is not None and sha != digest:
                raise RecordError(
                    f"photo_sha256 {sha} is not the SHA-256 of the photo given ({digest})"
                )
            sha = digest
            keep_photo = len(photo) <= self.max_photo_bytes
            if not keep_photo:
                LOGGER.warning(
                    "photo %s of %d bytes is over the cap of %d bytes: recorded without it",
                    digest[:12],
                    len(photo),
                    self.max_photo_bytes,
                )
        p = record.provenance
        at = _naive(record.at)
        with self.engine.begin() as conn:
            if keep_photo and photo is not None and sha is not None:
                self._upsert_photo(conn, sha, photo, at)
            record_id = conn.execute(
                records.insert()
                .values(
                    at=at,
                    camera=record.camera,
                    integrator=record.integrator,
                    scorer_version=p.scorer_version,
                    repository_build=p.repository_build,
                    networks=dict(p.networks),
                    verdict=record.verdict.value,
                    probability=record.probability,
                    threshold=record.threshold,
                    needs_review=record.needs_review,
                    feature_spec_version=record.feature_spec_version,
                    features=dict(record.features) if record.features is not None else None,
                    trucks=[t.to_json() for t in record.trucks],
                    photo_sha256=sha,
                    recorded_by=p.recorded_by,
                    source=p.source,
                )
                .returning(records.c.id)
            ).scalar_one()
            stored = keep_photo or (sha is not None and self._has_photo(conn, sha))
        return _replace(record, record_id=int(record_id), photo_sha256=sha, photo_stored=stored)

    def _upsert_photo(self, conn: sa.Connection, sha: str, photo: bytes, at: datetime) -> None:
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(photos)
        statement = insert.values(
            sha256=sha, size_bytes=len(photo), content=photo, first_used_at=at, last_used_at=at
        )
        incoming = statement.excluded.last_used_at
        newer = sa.case((incoming > photos.c.last_used_at, incoming), else_=photos.c.last_used_at)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[photos.c.sha256], set_={"last_used_at": newer}
            )
        )

    @staticmethod
    def _has_photo(conn: sa.Connection, sha: str) -> bool:
        found = conn.execute(sa.select(photos.c.sha256).where(photos.c.sha256 == sha)).first()
        return found is not None

    # -- reading ---------------------------------------------------------------------------

    def query(self, query: RecordQuery | None = None) -> RecordPage:
        """One page of the records that match ``query``, newest first."""
        query = query or RecordQuery()
        statement = (
            sa.select(records, photos.c.sha256.is_not(None).label("photo_stored"))
            .select_from(records.outerjoin(photos, photos.c.sha256 == records.c.photo_sha256))
            .where(*_conditions(query))
            .order_by(records.c.at.desc(), records.c.id.desc())
            .limit(query.limit + 1)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        page = [_from_row(r) for r in rows[: query.limit]]
        cursor = None
        if len(rows) > query.limit:
            last = page[-1]
            assert last.record_id is not None
            cursor = encode_cursor(last.at, last.record_id)
        return RecordPage(tuple(page), cursor)

    def count(self, query: RecordQuery | None = None) -> int:
        """How many records match ``query``'s filters (its paging is ignored)."""
        query = query or RecordQuery()
        statement = sa.select(sa.func.count()).select_from(records).where(*_filters(query))
        with self.engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())

    def get(self, record_id: int) -> InspectionRecord:
        """The record ``record_id``; :class:`KeyError` when there is none."""
        statement = (
            sa.select(records, photos.c.sha256.is_not(None).label("photo_stored"))
            .select_from(records.outerjoin(photos, photos.c.sha256 == records.c.photo_sha256))
            .where(records.c.id == record_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(statement).mappings().first()
        if row is None:
            raise KeyError(f"no inspection record with id {record_id}")
        return _from_row(row)

    def photo(self, sha256: str) -> bytes:
        """The photo with this SHA-256; :class:`KeyError` when it is not kept (never stored,
        over the size cap, or purged)."""
        with self.engine.connect() as conn:
            content = conn.execute(
                sa.select(photos.c.content).where(photos.c.sha256 == sha256)
            ).scalar()
        if content is None:
            raise KeyError(f"photo {sha256} is not kept (over the size cap, or purged)")
        return bytes(content)

    # -- retention -------------------------------------------------------------------------

    def purge(
        self,
        *,
        records_older_than: timedelta | None = None,
        photos_older_than: timedelta | None = None,
        now: datetime | None = None,
    ) -> PurgeResult:
        """Delete records with ``at`` older than ``now - records_older_than``, and photos that no
        record newer than ``now - photos_older_than`` (or than the records' cut-off, whichever is
        later) refers to. ``None`` keeps that kind.
        """
        now = utc(now, "now") if now is not None else datetime.now(UTC)
        for name, span in (("records", records_older_than), ("photos", photos_older_than)):
            if span is not None and span <= timedelta(0):
                raise RecordError(f"{name}_older_than: expected a positive period, got {span}")
        record_cut = _naive(now - records_older_than) if records_older_than else None
        photo_cuts = [_naive(now - s) for s in (records_older_than, photos_older_than) if s]
        photo_cut = max(photo_cuts) if photo_cuts else None
        deleted_records = deleted_photos = deleted_bytes = 0
        with self.engine.begin() as conn:
            if record_cut is not None:
                deleted_records = conn.execute(
                    records.delete().where(records.c.at < record_cut)
                ).rowcount
            if photo_cut is not None:
                gone = conn.execute(
                    photos.delete()
                    .where(photos.c.last_used_at < photo_cut)
                    .returning(photos.c.size_bytes)
                ).all()
                deleted_photos = len(gone)
                deleted_bytes = sum(int(r.size_bytes) for r in gone)
        LOGGER.info(
            "purged %d records and %d photos (%d bytes)",
            deleted_records,
            deleted_photos,
            deleted_bytes,
        )
        return PurgeResult(deleted_records, deleted_photos, deleted_bytes)


def _filters(query: RecordQuery) -> list[Any]:
    c = records.c
    out: list[Any] = []
    if query.integrator is not None:
        out.append(c.integrator == query.integrator)
    if query.camera is not None:
        out.append(c.camera == query.camera)
    if query.verdict is not None:
        out.append(c.verdict == query.verdict.value)
    if query.since is not None:
        out.append(c.at >= _naive(query.since))
    if query.until is not None:
        out.append(c.at < _naive(query.until))
    if query.min_probability is not None:
        out.append(c.probability >= query.min_probability)
    if query.max_probability is not None:
        out.append(c.probability <= query.max_probability)
    return out


def _conditions(query: RecordQuery) -> list[Any]:
    out = _filters(query)
    if query.after is not None:
        at, record_id = decode_cursor(query.after)
        at_naive = _naive(at)
        out.append(
            sa.or_(
                records.c.at < at_naive,
                sa.and_(records.c.at == at_naive, records.c.id < record_id),
            )
        )
    return out


def _from_row(row: Any) -> InspectionRecord:
    return InspectionRecord(
        at=_aware(row["at"]),
        integrator=row["integrator"],
        verdict=Verdict(row["verdict"]),
        probability=row["probability"],
        threshold=row["threshold"],
        camera=row["camera"],
        needs_review=row["needs_review"],
        feature_spec_version=row["feature_spec_version"],
        features=row["features"],
        trucks=tuple(TruckRecord.from_json(t) for t in row["trucks"]),
        photo_sha256=row["photo_sha256"],
        photo_stored=bool(row["photo_stored"]),
        provenance=Provenance(
            scorer_version=row["scorer_version"],
            repository_build=row["repository_build"],
            networks=row["networks"] or {},
            recorded_by=row["recorded_by"],
            source=row["source"],
        ),
        record_id=int(row["id"]),
    )


def _replace(record: InspectionRecord, **changes: Any) -> InspectionRecord:
    from dataclasses import replace

    return replace(record, **changes)
