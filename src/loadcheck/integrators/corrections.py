"""The correction loop: "this verdict is wrong" puts the record's photo into its integrator's
fitting data with the right label, tagged as a correction, and keeps the correction with the
record.

:func:`correct_record` does both, in this order: the records store opens the record's
correction (locked, not yet written), the photo is stored in the fitting data (the same image
checks, content-addressed image store and tables as ``add-data``, in one workspace transaction
with its ``correct`` audit row), then the correction is committed. If the fitting-data step
fails, nothing is written anywhere; if the records store fails at the very end, the fitting data
has the photo and correcting the record again completes it (the fitting-data step is
idempotent).

Fitting data is never overwritten: a photo already in the fitting data from the zips with the
other label is refused with the reason (with the same label it stays as it is). A photo that
another record's correction added (the same photo judged twice) is refused too: its one sample
follows that record. Only a sample added by this record's own correction is relabelled when the
record is corrected again.
The fitting sample is named ``record-<id>.<ext>`` (``--masks`` folders give its masks as
``record-<id>_bed.png`` / ``record-<id>_load.png``).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadcheck.atomic import file_lock
from loadcheck.imageio import ImageDecodeError, ImageFormat, sha256_bytes, sniff_format
from loadcheck.integrators.errors import IngestError
from loadcheck.integrators.ingest import ArchiveImage, check_image
from loadcheck.integrators.store import (
    IMAGES_LOCK,
    QUALIFIED,
    UNQUALIFIED,
    IntegratorStore,
    insert_image_row,
)
from loadcheck.payloads import Verdict
from loadcheck.workspace.db import current_actor, now_iso

if TYPE_CHECKING:
    from loadcheck.records.corrections import Correction
    from loadcheck.records.store import RecordStore

LOG = logging.getLogger(__name__)
_EXTENSIONS = {
    ImageFormat.JPEG: "jpg",
    ImageFormat.PNG: "png",
    ImageFormat.BMP: "bmp",
    ImageFormat.WEBP: "webp",
}
_LABELS = {Verdict.QUALIFIED: QUALIFIED, Verdict.UNQUALIFIED: UNQUALIFIED}
_NAMES = {QUALIFIED: "Qualified", UNQUALIFIED: "Unqualified"}

#: What a correction did to the fitting data.
ADDED, RELABELLED, UNCHANGED, ALREADY_PRESENT = "added", "relabelled", "unchanged", "present"


@dataclass(frozen=True)
class CorrectionResult:
    """The outcome of :func:`correct_record`.

    Attributes:
        correction: the record's correction as stored now.
        previous_label: the label of its previous correction (``None``: first one).
        fitting: what happened to the fitting data: ``added`` (a new sample), ``relabelled``
            (this record's own sample got the new label), ``present`` (the photo was already
            there with this label, from the zips), or ``unchanged`` (this record's sample
            already had this label).
        sample_name: the sample's name in the fitting data.
    """

    correction: Correction
    previous_label: Verdict | None
    fitting: str
    sample_name: str

    @property
    def changed(self) -> bool:
        return self.previous_label != self.correction.label or self.fitting != UNCHANGED

    def message(self) -> str:
        c = self.correction
        where = {
            ADDED: f"added to the fitting data of {c.integrator} as {self.sample_name}",
            RELABELLED: f"relabelled in the fitting data of {c.integrator} ({self.sample_name})",
            ALREADY_PRESENT: f"already in the fitting data of {c.integrator} with this label "
            "(from its zips)",
            UNCHANGED: f"already in the fitting data of {c.integrator} with this label",
        }[self.fitting]
        if not self.changed:
            return f"record {c.record_id} is already corrected to {c.label.value}; nothing changed"
        return (
            f"record {c.record_id} corrected from {c.verdict.value} to {c.label.value} "
            f"(correction {c.revision}); the photo is {where}"
        )


def _photo_image(record_id: int, photo: bytes) -> ArchiveImage:
    """The photo as a fitting image, checked as ``add-data`` checks archive entries."""
    name = f"photo of record {record_id}"
    try:
        fmt = sniff_format(photo)
    except ImageDecodeError as exc:
        raise IngestError(f"{name}: {exc}") from None
    width, height = check_image(photo, name)
    ext = _EXTENSIONS[fmt]
    return ArchiveImage(f"record-{record_id}.{ext}", photo, ext, sha256_bytes(photo), width, height)


def put_correction_sample(
    store: IntegratorStore,
    integrator: str,
    record_id: int,
    photo: bytes,
    label: Verdict,
    *,
    audit: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Put ``photo`` into ``integrator``'s fitting data as ``label``, tagged with the record;
    one workspace transaction with the ``correct`` audit row (``audit``: its extra detail).

    Returns:
        ``(what happened, sample name)``; see :class:`CorrectionResult`.

    Raises:
        NotFoundError: no such integrator in this workspace.
        IngestError: the photo is not an acceptable image, it is in the fitting data from the
            zips with the other label, or another record's correction added it.
    """
    value = _LABELS[label]
    store.get(integrator)
    image = _photo_image(record_id, photo)
    with file_lock(store.ws.lock_path(IMAGES_LOCK)):
        store.images.put(image.data, image.ext)
        stamp = now_iso()
        with store.ws.transaction() as conn:
            store.get(integrator, conn)
            insert_image_row(conn, image, stamp)
            what, name = _upsert_sample(conn, integrator, record_id, image, value, stamp)
            if what != UNCHANGED:
                store.ws.audit(
                    conn,
                    "correct",
                    integrator,
                    record_id=record_id,
                    sha256=image.sha256,
                    label=_NAMES[value],
                    fitting=what,
                    sample=name,
                    **(audit or {}),
                )
    return what, name


def _upsert_sample(
    conn: sqlite3.Connection,
    integrator: str,
    record_id: int,
    image: ArchiveImage,
    value: int,
    stamp: str,
) -> tuple[str, str]:
    sample = conn.execute(
        "SELECT s.label, s.original_name, c.record_id FROM samples s LEFT JOIN "
        "sample_corrections c ON c.integrator = s.integrator AND c.sha256 = s.sha256 "
        "WHERE s.integrator = ? AND s.sha256 = ?",
        (integrator, image.sha256),
    ).fetchone()
    actor = current_actor()
    if sample is None:
        conn.execute(
            "INSERT INTO samples (integrator, sha256, label, original_name, added_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (integrator, image.sha256, value, image.name, stamp),
        )
        conn.execute(
            "INSERT INTO sample_corrections (integrator, sha256, record_id, label, "
            "corrected_by, corrected_at) VALUES (?, ?, ?, ?, ?, ?)",
            (integrator, image.sha256, record_id, value, actor, stamp),
        )
        return ADDED, image.name
    old, name, owner = int(sample["label"]), str(sample["original_name"]), sample["record_id"]
    if owner is not None and int(owner) == record_id:
        if old == value:
            return UNCHANGED, name
        conn.execute(
            "UPDATE samples SET label = ? WHERE integrator = ? AND sha256 = ?",
            (value, integrator, image.sha256),
        )
        conn.execute(
            "UPDATE sample_corrections SET label = ?, corrected_by = ?, corrected_at = ? "
            "WHERE integrator = ? AND sha256 = ?",
            (value, actor, stamp, integrator, image.sha256),
        )
        return RELABELLED, name
    if owner is not None:
        # The same photo judged twice: its one sample follows the record that added it.
        raise IngestError(
            f"the photo of record {record_id} is already in the fitting data of {integrator} as "
            f"{_NAMES[old]} ({name}) from the correction of record {owner}, the same photo; "
            f"correct record {owner} instead"
        )
    if old == value:
        return ALREADY_PRESENT, name
    raise IngestError(
        f"the photo of record {record_id} is already in the fitting data of {integrator} as "
        f"{_NAMES[old]} ({name}) from the fitting data; fitting data is never overwritten (clear "
        "the data first, loadcheck integrator clear-data, to relabel it)"
    )


def correct_record(
    records: RecordStore,
    store: IntegratorStore,
    record_id: int,
    label: Verdict | str,
) -> CorrectionResult:
    """ "This verdict is wrong": correct record ``record_id`` to ``label`` (Qualified or
    Unqualified) as the current audit actor; see the module docstring.

    Raises:
        KeyError: no such record.
        RecordError: a label that is not Qualified/Unqualified, the record's own verdict, or a
            record without a kept photo.
        NotFoundError: the record's integrator is not in this workspace.
        IngestError: the photo cannot join the fitting data (see
            :func:`put_correction_sample`).
    """
    from loadcheck.records.corrections import correcting

    actor = current_actor()
    with correcting(records, record_id, label, actor) as change:
        c = change.correction
        what, name = put_correction_sample(
            store,
            c.integrator,
            c.record_id,
            change.photo,
            c.label,
            audit={
                "verdict": c.verdict.value,
                "previous_label": change.previous.label.value if change.previous else None,
                "revision": c.revision,
            },
        )
    previous = change.previous.label if change.previous is not None else None
    result = CorrectionResult(c, previous, what, name)
    LOG.info("%s", result.message())
    return result
