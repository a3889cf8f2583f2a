"""Builders for fitting-data zips and masks used by the integrator tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np

SIZE_WH = (96, 64)


def jpeg_bytes(seed: int, size_wh: tuple[int, int] = SIZE_WH) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (size_wh[1], size_wh[0], 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def png_bytes(seed: int, size_wh: tuple[int, int] = SIZE_WH) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (size_wh[1], size_wh[0], 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def write_zip(
    path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def write_masks(
    masks_dir: Path,
    stem: str,
    fill: float,
    size_wh: tuple[int, int] = SIZE_WH,
) -> None:
    """A bed rectangle filled from the floor up to ``fill`` of its height."""
    w, h = size_wh
    bed = np.zeros((h, w), np.uint8)
    bed[30:60, 10:86] = 255
    load = np.zeros_like(bed)
    top = 60 - round(30 * fill)
    load[top:60, 10:86] = 255
    masks_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(masks_dir / f"{stem}_bed.png"), bed)
    cv2.imwrite(str(masks_dir / f"{stem}_load.png"), load)


def dataset(root: Path, n_per_class: int = 6, seed: int = 0) -> tuple[Path, Path, Path]:
    """qualified.zip (full loads), unqualified.zip (half loads) and their masks folder."""
    masks = root / "masks"
    rng = np.random.default_rng(seed)
    zips = {}
    for label, fills in (("qualified", (0.92, 1.0)), ("unqualified", (0.3, 0.7))):
        entries = {}
        for i in range(n_per_class):
            stem = f"{label}_{i:03d}"
            entries[f"{stem}.jpg"] = jpeg_bytes(hash((seed, label, i)) % 2**31)
            write_masks(masks, stem, float(rng.uniform(*fills)))
        zips[label] = write_zip(root / f"{label}.zip", entries)
    return zips["qualified"], zips["unqualified"], masks
