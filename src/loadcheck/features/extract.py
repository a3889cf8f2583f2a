"""``extract_features``: one truck's masks -> the named feature vector of :data:`FEATURE_SPEC`.

Formulas and ranges are documented in :mod:`loadcheck.features.spec` (and docs/integrators.md).
Cost is proportional to the bed crop: well under 5 ms for 1024-pixel masks
(``benchmarks/bench_features.py``).
"""

from __future__ import annotations

import cv2
import numpy as np

from loadcheck.features.profile import (
    RIM_HEADROOM,
    Z_HIGH,
    Z_LOW,
    BedGeometry,
    bed_geometry,
    count_runs,
    first_true_row,
    last_true_row,
    moving_average,
    water_depth,
)
from loadcheck.features.spec import FEATURE_SPEC, MAX_PITS
from loadcheck.payloads import LoadFeatures, TruckMasks

PIT_DEPTH = 0.05  # bed heights: shallower dips are mask noise, not hollows
PIT_MIN_WIDTH = 0.01  # share of the bed width
PIT_SMOOTH = 64  # the profile is smoothed over W_b / 64 columns before finding pits
OCCLUSION_TOLERANCE = 0.1  # bed heights below the rim line that still count as "reaching" it
RESIDUAL_WINDOW = 8  # roughness_residual: moving average over W_b / 8 columns


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def _hull_area(cols: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> float:
    """Convex-hull area (px²) of the pixel squares spanned by per-column [top, bottom] runs."""
    if cols.size == 0:
        return 0.0
    xs = np.concatenate([cols, cols + 1, cols, cols + 1]).astype(np.float32)
    ys = np.concatenate([top, top, bottom + 1, bottom + 1]).astype(np.float32)
    hull = cv2.convexHull(np.stack([xs, ys], axis=1).reshape(-1, 1, 2))
    return float(cv2.contourArea(hull))


def _empty_values(truck: TruckMasks) -> dict[str, float]:
    values = dict.fromkeys(FEATURE_SPEC.names, 0.0)
    for name in ("height_min", "height_p10", "height_mean", "height_max"):
        values[name] = Z_LOW
    values["bed_confidence"] = truck.bed_confidence
    values["bed_mask_iou"] = truck.bed_mask_iou
    return values


def _profile_values(geo: BedGeometry, load: np.ndarray) -> dict[str, float]:
    width, height = geo.width, geo.height
    y_top = max(0, int(geo.y1 - RIM_HEADROOM * height))
    crop = load[y_top : geo.y2 + 1, geo.x1 : geo.x2 + 1]
    offset = y_top - geo.y1  # crop row 0 in bed-crop rows (<= 0)
    has = crop.any(axis=0)
    top = first_true_row(crop).astype(np.float64) + offset
    z = np.where(has, (geo.rim - top) / geo.col_height, Z_LOW)
    z = np.clip(z, Z_LOW, Z_HIGH)
    # Columns where neither the bed nor the load reaches the rim line are hidden (a pole, a
    # loader, a nearer truck): their height is interpolated from the visible columns.
    tol = OCCLUSION_TOLERANCE * geo.col_height + 1.0
    seen = (geo.bed_top <= geo.rim + tol) | (has & (top <= geo.rim + tol))
    if seen.any() and not seen.all():
        idx = np.arange(width, dtype=np.float64)
        z = np.interp(idx, idx[seen], z[seen])
    mass = z + 1.0
    norm_area = float(width) * height
    rows = (np.arange(crop.shape[0], dtype=np.float64) + offset)[:, None]
    above = int(np.count_nonzero(crop & (rows < geo.rim[None, :])))
    inside = int(np.count_nonzero(crop & (rows >= geo.rim[None, :]) & (rows <= geo.floor[None, :])))

    smooth = moving_average(z, width // PIT_SMOOTH)
    depth = water_depth(smooth)
    pits = count_runs(depth > PIT_DEPTH, int(np.ceil(PIT_MIN_WIDTH * width)))
    residual = z - moving_average(z, width // RESIDUAL_WINDOW)

    total = float(mass.sum())
    cols = np.arange(width, dtype=np.float64)
    if total > 0:
        centroid_x = float((mass * cols).sum()) / total
        balance_h = (centroid_x - (width - 1) / 2.0) / (width / 2.0)
    else:
        balance_h = 0.0
    half = width // 2
    difference = float(mass[width - half :].mean() - mass[:half].mean()) if half else 0.0

    row_counts = crop.sum(axis=1, dtype=np.int64)
    load_px = int(row_counts.sum())
    if load_px:
        centroid_y = float((row_counts * rows[:, 0]).sum()) / load_px
        balance_v = (centroid_y - (geo.y2 - geo.y1) / 2.0) / (height / 2.0)
        load_cols = np.flatnonzero(has)
        bottom = last_true_row(crop)
        hull = _hull_area(load_cols, top[load_cols] - offset, bottom[load_cols].astype(np.float64))
        solidity = load_px / hull if hull > 0 else 0.0
    else:
        balance_v = solidity = 0.0

    return {
        "fill_profile": _clip(float(np.clip(mass, 0.0, 1.0).mean()), 0.0, 1.0),
        "volume_profile": _clip(float(mass.mean()), 0.0, 3.0),
        "volume_above_rim": _clip(above / norm_area, 0.0, 2.0),
        "volume_below_rim": _clip(inside / norm_area, 0.0, 1.0),
        "height_min": float(z.min()),
        "height_p10": float(np.percentile(z, 10)),
        "height_mean": _clip(float(z.mean()), Z_LOW, Z_HIGH),
        "height_max": float(z.max()),
        "height_std": _clip(float(z.std()), 0.0, 1.5),
        "roughness_pit_count": float(min(pits, MAX_PITS)),
        "roughness_pit_depth": _clip(float(depth.max()), 0.0, 3.0),
        "roughness_pit_area": _clip(float(depth.mean()), 0.0, 3.0),
        "roughness_residual": _clip(float(residual.std()), 0.0, 1.5),
        "balance_horizontal": _clip(balance_h, -1.0, 1.0),
        "balance_difference": _clip(difference, -3.0, 3.0),
        "balance_asymmetry": _clip(abs(difference), 0.0, 3.0),
        "balance_vertical": _clip(balance_v, -1.0, 1.0),
        "solidity": _clip(solidity, 0.0, 1.0),
        "rim_coverage": float(np.count_nonzero(z >= 0.0)) / width,
        "load_width_ratio": float(np.count_nonzero(has)) / width,
    }


def extract_features(truck: TruckMasks) -> LoadFeatures:
    """The :data:`FEATURE_SPEC` vector (float32 ``[F]``) of one truck's bed and load masks.

    An empty bed mask gives the "no truck" vector (zeros, heights at -1); an empty load mask
    gives the "empty bed" vector. Every value is finite and inside its documented range.
    """
    bed, load = truck.bed_mask, truck.load_mask
    geo = bed_geometry(bed)
    if geo is None:
        values = _empty_values(truck)
    else:
        values = _profile_values(geo, load)
        load_px = int(np.count_nonzero(load))
        img_h, img_w = bed.shape
        inside = int(
            np.count_nonzero(
                load[geo.y1 : geo.y2 + 1, geo.x1 : geo.x2 + 1]
                & bed[geo.y1 : geo.y2 + 1, geo.x1 : geo.x2 + 1]
            )
        )
        values["fullness"] = _clip(inside / max(geo.area_px, 1), 0.0, 1.0)
        values["load_area_ratio"] = _clip(load_px / (geo.width * geo.height), 0.0, 3.0)
        values["bed_aspect"] = _clip(geo.width / geo.height, 0.0, 20.0)
        values["bed_area_fraction"] = _clip(geo.area_px / float(img_h * img_w), 0.0, 1.0)
        values["bed_confidence"] = truck.bed_confidence
        values["bed_mask_iou"] = truck.bed_mask_iou
        values["load_confidence"] = truck.load_confidence if load_px else 0.0
        values["load_mask_iou"] = truck.load_mask_iou if load_px else 0.0
    vector = np.array([values[name] for name in FEATURE_SPEC.names], dtype=np.float32)
    return LoadFeatures(FEATURE_SPEC.names, vector, FEATURE_SPEC.version)


def extract_features_batch(trucks: list[TruckMasks]) -> np.ndarray:
    """float32 ``[N, F]`` features of several trucks (``[0, F]`` when the list is empty)."""
    if not trucks:
        return np.zeros((0, len(FEATURE_SPEC)), np.float32)
    return np.stack([extract_features(t).values for t in trucks])
