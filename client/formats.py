"""Batch result formats of ``loadcheck inspect``: a table, JSON, CSV, and the summary line."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

from loadcheck.payloads import VERDICTS, Verdict

if TYPE_CHECKING:
    from rich.table import Table

    from loadcheck.client.async_client import BatchItem


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


#: Leading CSV columns; the feature columns (one per feature name, in first-seen order) follow.
CSV_COLUMNS: tuple[str, ...] = (
    "index",
    "source",
    "status",
    "score_result",
    "probability",
    "threshold",
    "detections",
    "round_trip_ms",
    "elapsed_ms",
    "error",
)
_VERDICT_STYLE = {
    Verdict.QUALIFIED: "green",
    Verdict.UNQUALIFIED: "red",
    Verdict.NO_MINE_DETECTED: "dim",
}


def item_record(item: BatchItem) -> dict[str, Any]:
    """The JSON object of one item: ``index``, ``source``, ``ok``, the result's detailed dict
    (``score_result``, ``probability``, ``threshold``, ``features``, ``detections``,
    ``timings_ms``, ``trucks``, ...) or ``error`` and ``error_type``."""
    record: dict[str, Any] = {"index": item.index, "source": item.source.label, "ok": item.ok}
    if item.result is not None:
        record.update(item.result.to_dict(detail=True))
    else:
        record["error"] = item.error
        record["error_type"] = item.error_type
    record["elapsed_ms"] = round(item.elapsed_ms, 3)
    return record


def write_json(items: Sequence[BatchItem], out: TextIO) -> None:
    """A JSON array of :func:`item_record` objects, in input order."""
    json.dump([item_record(i) for i in items], out, indent=2)
    out.write("\n")


def feature_columns(items: Sequence[BatchItem]) -> list[str]:
    names: dict[str, None] = {}
    for item in items:
        if item.result is not None and item.result.features is not None:
            names.update(dict.fromkeys(item.result.features.names))
    return list(names)


def write_csv(items: Sequence[BatchItem], out: TextIO) -> None:
    """One row per image: :data:`CSV_COLUMNS` then one column per feature."""
    features = feature_columns(items)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *features])
    for item in items:
        r = item.result
        row: list[Any] = [item.index, item.source.label, "ok" if r is not None else "failed"]
        if r is None:
            row += ["", "", "", "", "", f"{item.elapsed_ms:.1f}", item.error or ""]
            row += [""] * len(features)
        else:
            values = r.features.as_dict() if r.features is not None else {}
            row += [
                r.score_result.value,
                f"{r.probability:.6f}",
                f"{r.threshold:.6f}",
                len(r.detections),
                f"{r.timings.stages_ms.get('round_trip', 0.0):.1f}",
                f"{item.elapsed_ms:.1f}",
                "",
            ]
            row += [f"{values[n]:.6g}" if n in values else "" for n in features]
        writer.writerow(row)


def results_table(items: Sequence[BatchItem], *, max_features: int = 3) -> Table:
    """A rich table: image, verdict, probability, threshold, the first features, time, error."""
    from rich.table import Table

    features = feature_columns(items)[:max_features]
    table = Table(show_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("image", overflow="fold")
    table.add_column("verdict")
    table.add_column("p", justify="right")
    table.add_column("thr", justify="right")
    for name in features:
        table.add_column(name, justify="right")
    table.add_column("ms", justify="right")
    table.add_column("error", overflow="fold")
    for item in items:
        r = item.result
        if r is None:
            table.add_row(
                str(item.index),
                item.source.label,
                "[bold red]FAILED[/]",
                *[""] * (2 + len(features)),
                f"{item.elapsed_ms:.0f}",
                item.error or "",
            )
            continue
        values = r.features.as_dict() if r.features is not None else {}
        table.add_row(
            str(item.index),
            item.source.label,
            f"[{_VERDICT_STYLE[r.score_result]}]{r.score_result.value}[/]",
            f"{r.probability:.3f}",
            f"{r.threshold:.3f}",
            *[f"{values[n]:.3g}" if n in values else "" for n in features],
            f"{item.elapsed_ms:.0f}",
            "",
        )
    return table


def summary_line(items: Sequence[BatchItem], elapsed_s: float) -> str:
    """``"9 images: 3 Qualified, 4 Unqualified, 0 No Mine Detected, 2 failed in 1.9 s
    (4.74 images/s)"``; the rate counts every image, failed or not."""
    counts = Counter(i.result.score_result.value for i in items if i.result is not None)
    failed = sum(1 for i in items if i.result is None)
    parts = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    rate = len(items) / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"{len(items)} images: {parts}, {failed} failed in {elapsed_s:.1f} s ({rate:.2f} images/s)"
    )
