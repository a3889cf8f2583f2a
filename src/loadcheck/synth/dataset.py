"""``write_dataset``: render ``count`` scenes and write them with every label format.

Layout under ``out`` (``<stem>`` = ``s<seed>_<index:06d>``)::

    images/<stem>.jpg                 the photos (JPEG, per-scene quality)
    masks/<stem>_bed.png              uint8 0/255 union of the visible beds
    masks/<stem>_load.png             uint8 0/255 union of the visible loads
    labels.json                       one record per image (sorted keys)
    data.yaml                         YOLOv6 dataset file (absolute paths, nc: 2, bed + load)
    yolo/images/{train,val}/<stem>.jpg  hard links to images/ (copies where links fail)
    yolo/labels/{train,val}/<stem>.txt  YOLO boxes: "class cx cy w h", normalised
    qualified.zip / unqualified.zip   the legacy fitting archives, images at the archive root

With several ``styles`` (:mod:`loadcheck.synth.styles`), scene ``i`` is drawn by
``styles[i % len(styles)]``; each record names its ``style``. The default (``classic`` only) writes
the same images, masks, YOLO labels and zips as before styles existed.

Scene ``i`` goes to ``val`` when ``i % 10 == 9`` (10 %), else to ``train``; with no ``val`` image
``data.yaml`` points ``val`` at the train folder. "No Mine Detected" images are in neither zip.
Everything except ``data.yaml`` (which names the absolute output folder) is byte-identical for
the same seed, count and size.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from loadcheck.payloads import CLASS_NAMES, Verdict
from loadcheck.synth import rules
from loadcheck.synth.render import check_size, render_scene
from loadcheck.synth.scene import Scene
from loadcheck.synth.styles import DEFAULT_STYLE, STYLES, render_styled, scene_style

logger = logging.getLogger(__name__)

GENERATOR: Final = "loadcheck synth"
FORMAT_VERSION: Final = 1
VAL_EVERY: Final = 10
ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)
ZIP_FOR_LABEL: Final = {Verdict.QUALIFIED: "qualified.zip", Verdict.UNQUALIFIED: "unqualified.zip"}
_OWNED: Final = ("images", "masks", "yolo", "labels.json", "data.yaml", *ZIP_FOR_LABEL.values())


class DatasetError(ValueError):
    """The output folder or an argument of :func:`write_dataset` is not usable."""


@dataclass(frozen=True)
class DatasetSummary:
    """What :func:`write_dataset` wrote.

    Attributes:
        out_dir: the output folder (absolute).
        count / seed / size_wh: the arguments.
        labels / views: image counts per label and per view.
        split_counts: image counts per YOLO split (``train``, ``val``).
        styles: image counts per scene style.
        elapsed_s / images_per_s: wall-clock time of the whole write and its rate.
    """

    out_dir: Path
    count: int
    seed: int
    size_wh: tuple[int, int]
    labels: dict[str, int] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    styles: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0


def split_of(index: int) -> str:
    """The YOLO split of scene ``index``: ``val`` for every tenth scene, else ``train``."""
    return "val" if index % VAL_EVERY == VAL_EVERY - 1 else "train"


def _prepare(out: Path) -> Path:
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise DatasetError(f"out: {out} exists and is not a folder; expected a folder path")
    if out.is_dir() and any(out.iterdir()):
        marker = out / "labels.json"
        try:
            previous = json.loads(marker.read_text()) if marker.is_file() else {}
        except (OSError, ValueError):
            previous = {}
        if not isinstance(previous, dict) or previous.get("generator") != GENERATOR:
            raise DatasetError(
                f"out: {out} is not empty and holds no earlier '{GENERATOR}' output; "
                "expected an empty or new folder (or one this command wrote before)"
            )
        for name in _OWNED:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    try:
        for sub in ("images", "masks"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        for kind in ("images", "labels"):
            for split in ("train", "val"):
                (out / "yolo" / kind / split).mkdir(parents=True, exist_ok=True)
        probe = out / ".write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DatasetError(f"out: cannot write to {out}: {exc}") from exc
    return out


def _png(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".png",
        mask.astype(np.uint8) * 255,
        [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE],
    )
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _zip_add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _link_or_copy(src: Path, dst: Path, data: bytes) -> None:
    try:
        os.link(src, dst)
    except OSError:
        dst.write_bytes(data)


def _write_scene(out: Path, scene: Scene, zips: dict[Verdict, zipfile.ZipFile]) -> dict[str, Any]:
    file = f"{scene.stem}.jpg"
    jpeg = scene.encode_jpeg()
    image_path = out / "images" / file
    image_path.write_bytes(jpeg)
    (out / "masks" / f"{scene.stem}_bed.png").write_bytes(_png(scene.bed_mask))
    (out / "masks" / f"{scene.stem}_load.png").write_bytes(_png(scene.load_mask))
    split = split_of(scene.index)
    _link_or_copy(image_path, out / "yolo" / "images" / split / file, jpeg)
    lines = scene.yolo_lines()
    text = "\n".join(lines) + "\n" if lines else ""
    (out / "yolo" / "labels" / split / f"{scene.stem}.txt").write_text(text)
    if scene.label in zips:
        _zip_add(zips[scene.label], file, jpeg)
    record = scene.to_record(f"images/{file}")
    record["split"] = split
    return record


def _data_yaml(out: Path, split_counts: Counter[str]) -> str:
    train = out / "yolo" / "images" / "train"
    val = out / "yolo" / "images" / "val" if split_counts["val"] else train
    data = {
        "train": str(train),
        "val": str(val),
        "is_coco": False,
        "nc": len(CLASS_NAMES),
        "names": list(CLASS_NAMES),
    }
    return "# YOLOv6 dataset written by loadcheck synth\n" + yaml.safe_dump(data, sort_keys=False)


def write_dataset(
    out: Path | str,
    count: int,
    seed: int,
    size_wh: tuple[int, int] = (960, 540),
    progress: bool = True,
    styles: tuple[str, ...] = (DEFAULT_STYLE,),
) -> DatasetSummary:
    """Render scenes ``0 .. count-1`` of ``seed`` at ``size_wh`` and write them under ``out``,
    scene ``i`` in style ``styles[i % len(styles)]``.

    ``out`` must be new, empty, or an earlier output of this function (whose files it replaces).
    Raises :class:`DatasetError` for a bad argument or an unusable folder.
    """
    if isinstance(count, bool) or int(count) != count or count < 0:
        raise DatasetError(f"count: expected an integer >= 0, got {count!r}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**63:
        raise DatasetError(f"seed: expected an integer in [0, 2**63), got {seed!r}")
    try:
        w, h = check_size(size_wh)
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc
    styles = tuple(styles)
    unknown = [name for name in styles if name not in STYLES]
    if not styles or unknown:
        raise DatasetError(f"styles: got {list(styles)}, expected names from {list(STYLES)}")
    root = _prepare(Path(out))
    start = time.perf_counter()
    records: list[dict[str, Any]] = []
    labels: Counter[str] = Counter()
    views: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    per_style: Counter[str] = Counter()
    columns = (
        TextColumn("[bold]synth[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        zipfile.ZipFile(root / ZIP_FOR_LABEL[Verdict.QUALIFIED], "w") as q_zip,
        zipfile.ZipFile(root / ZIP_FOR_LABEL[Verdict.UNQUALIFIED], "w") as u_zip,
        Progress(*columns, disable=not progress) as bar,
    ):
        zips = {Verdict.QUALIFIED: q_zip, Verdict.UNQUALIFIED: u_zip}
        task = bar.add_task("scenes", total=count)
        for index in range(count):
            style = scene_style(index, styles)
            if style == DEFAULT_STYLE:
                scene = render_scene(int(seed), index, (w, h))
            else:
                scene = render_styled(int(seed), index, (w, h), style)
            record = _write_scene(root, scene, zips)
            records.append(record)
            labels[record["label"]] += 1
            views[record["view"]] += 1
            splits[record["split"]] += 1
            per_style[style] += 1
            bar.advance(task)
    document = {
        "generator": GENERATOR,
        "format_version": FORMAT_VERSION,
        "seed": int(seed),
        "count": int(count),
        "size_wh": [w, h],
        "styles": list(styles),
        "class_names": list(CLASS_NAMES),
        "rule": {
            "qualified_min_fill": rules.QUALIFIED_MIN_FILL,
            "qualified_max_pit_depth": rules.QUALIFIED_MAX_PIT_DEPTH,
            "qualified_max_imbalance": rules.QUALIFIED_MAX_IMBALANCE,
        },
        "images": records,
    }
    (root / "labels.json").write_text(json.dumps(document, sort_keys=True, indent=1) + "\n")
    (root / "data.yaml").write_text(_data_yaml(root, splits))
    elapsed = time.perf_counter() - start
    summary = DatasetSummary(
        out_dir=root,
        count=int(count),
        seed=int(seed),
        size_wh=(w, h),
        labels={k: labels[k] for k in sorted(labels)},
        views={k: views[k] for k in sorted(views)},
        split_counts={k: splits[k] for k in ("train", "val")},
        styles={k: per_style[k] for k in styles},
        elapsed_s=elapsed,
    )
    logger.debug(
        "wrote %d scenes to %s in %.1f s (%.1f images/s): %s",
        count,
        root,
        elapsed,
        summary.images_per_s,
        summary.labels,
    )
    return summary
