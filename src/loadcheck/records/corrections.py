"""Operators' corrections of verdicts ("this verdict is wrong"), kept next to the records.

One row per corrected record (table ``record_corrections``, schema version 2): the record's
verdict, the right label (Qualified or Unqualified), who corrected it and when, and how many
times it was corrected (``revision``). Correcting a record again updates its row; the workspace
audit log keeps every correction (:mod:`loadcheck.integrators.corrections` writes it, together
with the photo's place in the integrator's fitting data).

:func:`correcting` holds the record's correction open while the caller stores the photo in the
fitting data, and writes it only when the caller's block succeeds: a correction is never shown
for a photo that did not reach the fitting data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from loadcheck.payloads import Verdict
from loadcheck.records.model import InspectionRecord, RecordError, utc
from loadcheck.records.store import RecordStore, _from_row
from loadcheck.records.tables import corrections, photos, records

#: The labels a correction may give (fitting data has two classes).
CORRECTION_LABELS: tuple[Verdict, ...] = (Verdict.QUALIFIED, Verdict.UNQUALIFIED)


def correction_label(value: Any) -> Verdict:
    """``value`` as a correction label; :class:`RecordError` for anything else."""
    try:
        label = Verdict(value)
    except ValueError:
        label = None
    if label not in CORRECTION_LABELS:
        raise RecordError(
            f"label: got {value!r}, expected one of {[v.value for v in CORRECTION_LABELS]} "
            "(the fitting data has these two classes)"
        )
    return label


@dataclass(frozen=True)
class Correction:
    """A record's correction as stored.

    Attributes:
        record_id: the corrected record.
        integrator: the record's integrator (whose fitting data got the photo).
        photo_sha256: the record's photo.
        verdict: the verdict the record holds (what was judged wrong).
        label: the right label, Qualified or Unqualified.
        corrected_by: who corrected it last (the audit actor).
        corrected_at / first_corrected_at: last and first correction (aware UTC).
        revision: how many times the record was corrected (1 for the first).
    """

    record_id: int
    integrator: str
    photo_sha256: str
    verdict: Verdict
    label: Verdict
    corrected_by: str
    corrected_at: datetime
    first_corrected_at: datetime
    revision: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))
        object.__setattr__(self, "label", correction_label(self.label))
        object.__setattr__(self, "corrected_at", utc(self.corrected_at, "corrected_at"))
        object.__setattr__(
            self, "first_corrected_at", utc(self.first_corrected_at, "first_corrected_at")
        )
        if not self.corrected_by.strip():
            raise RecordError("corrected_by: expected a non-empty name")
        if self.revision < 1:
            raise RecordError(f"revision: expected >= 1, got {self.revision}")

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "integrator": self.integrator,
            "photo_sha256": self.photo_sha256,
            "verdict": self.verdict.value,
            "label": self.label.value,
            "corrected_by": self.corrected_by,
            "corrected_at": self.corrected_at.isoformat(),
            "first_corrected_at": self.first_corrected_at.isoformat(),
            "revision": self.revision,
        }


@dataclass(frozen=True)
class CorrectionChange:
    """What :func:`correcting` is about to write.

    Attributes:
        record: the record being corrected.
        photo: its photo's bytes.
        previous: its correction before this one (``None``: first correction).
        correction: the correction as it will be stored.
    """

    record: InspectionRecord
    photo: bytes
    previous: Correction | None
    correction: Correction

    @property
    def changed(self) -> bool:
        """False when the record already had this label (nothing is written)."""
        return self.previous is None or self.previous.label != self.correction.label


def _from_correction_row(row: Any) -> Correction:
    return Correction(
        record_id=int(row["record_id"]),
        integrator=row["integrator"],
        photo_sha256=row["photo_sha256"],
        verdict=Verdict(row["verdict"]),
        label=Verdict(row["label"]),
        corrected_by=row["corrected_by"],
        corrected_at=row["corrected_at"].replace(tzinfo=UTC),
        first_corrected_at=row["first_corrected_at"].replace(tzinfo=UTC),
        revision=int(row["revision"]),
    )


def corrections_for(store: RecordStore, record_ids: Iterable[int]) -> dict[int, Correction]:
    """The corrections of these records, by record id (records never corrected are absent)."""
    ids = sorted({int(i) for i in record_ids})
    out: dict[int, Correction] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                sa.select(corrections).where(corrections.c.record_id.in_(ids[start : start + 500]))
            ).mappings()
            for row in rows:
                out[int(row["record_id"])] = _from_correction_row(row)
    return out


def get_correction(store: RecordStore, record_id: int) -> Correction | None:
    """The correction of ``record_id``, or ``None``."""
    return corrections_for(store, [record_id]).get(int(record_id))


def count_corrections(store: RecordStore, integrator: str | None = None) -> int:
    """How many records are corrected (of ``integrator``, or of all)."""
    statement = sa.select(sa.func.count()).select_from(corrections)
    if integrator is not None:
        statement = statement.where(corrections.c.integrator == integrator)
    with store.engine.connect() as conn:
        return int(conn.execute(statement).scalar_one())


@contextmanager
def correcting(
    store: RecordStore,
    record_id: int,
    label: Verdict | str,
    actor: str,
    *,
    now: datetime | None = None,
) -> Iterator[CorrectionChange]:
    """Correct record ``record_id`` to ``label`` as ``actor``, in one transaction that commits
    only when the ``with`` block succeeds.

    The record's row is locked for the block (PostgreSQL: ``FOR UPDATE``; SQLite: the write
    transaction), so two operators correcting one record at once are serialised. When the
    record already has ``label`` as its correction, nothing is written
    (:attr:`CorrectionChange.changed` is false).

    Raises:
        KeyError: no record ``record_id``.
        RecordError: ``label`` is not Qualified/Unqualified; it is the record's own verdict;
            the record has no photo kept (never stored, over the size cap, or purged).
    """
    wanted = correction_label(label)
    if not actor.strip():
        raise RecordError("actor: expected a non-empty name for the correction")
    stamp = utc(now, "now") if now is not None else datetime.now(UTC)
    naive = stamp.replace(tzinfo=None)
    with store.engine.begin() as conn:
        row = (
            conn.execute(
                sa.select(records, photos.c.sha256.is_not(None).label("photo_stored"))
                .select_from(records.outerjoin(photos, photos.c.sha256 == records.c.photo_sha256))
                .where(records.c.id == record_id)
                .with_for_update(of=records)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise KeyError(f"no inspection record with id {record_id}")
        record = _from_row(row)
        if record.verdict == wanted:
            raise RecordError(
                f"record {record_id}: its verdict is already {wanted.value}; a correction gives "
                "the other label"
            )
        content = None
        if record.photo_sha256 is not None:
            content = conn.execute(
                sa.select(photos.c.content).where(photos.c.sha256 == record.photo_sha256)
            ).scalar()
        if content is None or record.photo_sha256 is None:
            why = (
                "the record has no photo"
                if record.photo_sha256 is None
                else "its photo is not kept (over the size cap, or past the photo retention)"
            )
            raise RecordError(
                f"record {record_id} cannot be corrected: {why}, and a correction adds the "
                "photo to the fitting data"
            )
        found = (
            conn.execute(sa.select(corrections).where(corrections.c.record_id == record_id))
            .mappings()
            .first()
        )
        previous = _from_correction_row(found) if found is not None else None
        correction = Correction(
            record_id=int(record_id),
            integrator=record.integrator,
            photo_sha256=record.photo_sha256,
            verdict=record.verdict,
            label=wanted,
            corrected_by=actor,
            corrected_at=stamp,
            first_corrected_at=previous.first_corrected_at if previous else stamp,
            revision=(previous.revision + 1) if previous else 1,
        )
        change = CorrectionChange(record, bytes(content), previous, correction)
        if previous is not None and not change.changed:
            yield CorrectionChange(record, bytes(content), previous, previous)
            return
        values = {
            "integrator": correction.integrator,
            "photo_sha256": correction.photo_sha256,
            "verdict": correction.verdict.value,
            "label": correction.label.value,
            "corrected_by": correction.corrected_by,
            "corrected_at": naive,
            "first_corrected_at": correction.first_corrected_at.replace(tzinfo=None),
            "revision": correction.revision,
        }
        if previous is None:
            conn.execute(corrections.insert().values(record_id=int(record_id), **values))
        else:
            conn.execute(
                corrections.update().where(corrections.c.record_id == record_id).values(**values)
            )
        yield change
