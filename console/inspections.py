"""What the console's Inspections page shows, without Streamlit: the records' filter choices,
daily verdict counts per camera, the CSV of a filtered set (a shift) and a record's overlay.

A record keeps its trucks' bed boxes, verdicts and probabilities, and the features of the
scored truck; it does not keep masks. The overlay is therefore drawn from those: each truck's
bed box in its verdict's colour, and the banner of :func:`loadcheck.client.overlay.render_overlay`
(verdict, probability, threshold, key features).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import sqlalchemy as sa

from loadcheck.client.overlay import VERDICT_COLORS, render_overlay
from loadcheck.payloads import InspectionResult, LoadFeatures
from loadcheck.records.cli import CSV_COLUMNS, write_csv
from loadcheck.records.corrections import Correction, corrections_for
from loadcheck.records.model import MAX_PAGE_SIZE, InspectionRecord, RecordQuery
from loadcheck.records.store import RecordStore, _filters
from loadcheck.records.tables import records

#: Most rows one CSV export holds (the page says when a filter matches more).
MAX_EXPORT_ROWS = 100_000
#: CSV columns of the export: those of ``loadcheck records list --format csv``, then the
#: correction, then ``feature:<name>`` columns.
#: The correction's columns of the console's CSV, after ``records list``'s.
CORRECTION_COLUMNS = ("corrected_label", "corrected_by", "corrected_at")
#: Columns of the console's CSV export; the features follow as ``feature:<name>``.
EXPORT_COLUMNS = (*CSV_COLUMNS, *CORRECTION_COLUMNS)
NO_CAMERA = "(no camera)"


@dataclass(frozen=True)
class FilterChoices:
    """The cameras and integrators that records name (for the filter boxes)."""

    cameras: tuple[str, ...]
    integrators: tuple[str, ...]


def filter_choices(store: RecordStore) -> FilterChoices:
    with store.engine.connect() as conn:
        cameras = conn.execute(
            sa.select(records.c.camera).where(records.c.camera.is_not(None)).distinct()
        ).scalars()
        camera_names = tuple(sorted(str(c) for c in cameras))
        integrators = conn.execute(sa.select(records.c.integrator).distinct()).scalars()
        return FilterChoices(camera_names, tuple(sorted(str(i) for i in integrators)))


def iter_records(
    store: RecordStore, query: RecordQuery, limit: int = MAX_EXPORT_ROWS
) -> Iterator[InspectionRecord]:
    """Every record matching ``query``'s filters, newest first, at most ``limit``."""
    cursor = None
    served = 0
    while served < limit:
        page = store.query(replace(query, limit=min(MAX_PAGE_SIZE, limit - served), after=cursor))
        yield from page.records
        served += len(page.records)
        cursor = page.next_cursor
        if cursor is None:
            return


def export_csv(rows: Sequence[InspectionRecord], corrections: Mapping[int, Correction]) -> bytes:
    """UTF-8 CSV of ``rows``: :data:`EXPORT_COLUMNS`, then ``feature:<name>`` columns (the
    ``records list`` CSV with each record's correction)."""

    def correction_cells(r: InspectionRecord) -> list[str]:
        c = corrections.get(r.record_id) if r.record_id is not None else None
        if c is None:
            return ["", "", ""]
        return [c.label.value, c.corrected_by, c.corrected_at.isoformat()]

    out = io.StringIO()
    write_csv(rows, out, extra_columns=CORRECTION_COLUMNS, extra=correction_cells)
    return out.getvalue().encode("utf-8")


def daily_verdicts(store: RecordStore, query: RecordQuery) -> list[dict[str, object]]:
    """Per UTC day and camera, each verdict's count and share of that day's records (the
    filters of ``query``; its paging is ignored). Rows: ``day`` (``YYYY-MM-DD``), ``camera``
    (:data:`NO_CAMERA` for records without one), ``verdict``, ``count``, ``share``."""
    day = sa.func.date(records.c.at).label("day")
    statement = (
        sa.select(day, records.c.camera, records.c.verdict, sa.func.count().label("n"))
        .where(*_filters(query))
        .group_by(day, records.c.camera, records.c.verdict)
    )
    with store.engine.connect() as conn:
        found = conn.execute(statement).all()
    totals: dict[tuple[str, str], int] = {}
    rows = []
    for d, camera, verdict, n in found:
        key = (str(d)[:10], camera or NO_CAMERA)
        totals[key] = totals.get(key, 0) + int(n)
        rows.append((key, str(verdict), int(n)))
    out: list[dict[str, object]] = [
        {
            "day": key[0],
            "camera": key[1],
            "verdict": verdict,
            "count": n,
            "share": n / totals[key],
        }
        for key, verdict, n in rows
    ]
    out.sort(key=lambda r: (str(r["day"]), str(r["camera"]), str(r["verdict"])))
    return out


def record_corrections(
    store: RecordStore, rows: Sequence[InspectionRecord]
) -> dict[int, Correction]:
    return corrections_for(store, [r.record_id for r in rows if r.record_id is not None])


def record_overlay(photo: bytes, record: InspectionRecord) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]``: the photo with each truck's bed box (verdict colour, ``truck
    i: verdict p``) and the verdict banner with the record's features. No masks: records do
    not keep them."""
    features = None
    if record.features:
        names = tuple(record.features)
        features = LoadFeatures(
            names,
            np.array([record.features[n] for n in names], np.float32),
            record.feature_spec_version or "unknown",
        )
    result = InspectionResult(
        score_result=record.verdict,
        probability=record.probability,
        threshold=record.threshold,
        features=features,
    )
    canvas = render_overlay(photo, result)
    h, w = canvas.shape[:2]
    scale = max(0.4, min(w, h) / 900.0)
    width = max(1, round(2 * scale))
    for i, truck in enumerate(record.trucks, 1):
        color = VERDICT_COLORS[truck.verdict]
        x1, y1, x2, y2 = (round(v) for v in truck.bed_xyxy)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, width)
        cv2.putText(
            canvas,
            f"truck {i}: {truck.verdict.value} {truck.probability:.2f}",
            (x1 + 2, max(y1 - 4, round(14 * scale))),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale,
            color,
            max(1, round(1.5 * scale)),
            cv2.LINE_AA,
        )
    return canvas
