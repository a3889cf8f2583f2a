"""Per-column geometry of one truck: rim and floor lines and the load height profile.

Everything here works on the bed's bounding-box columns only, so the cost is proportional to the
bed crop, not to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIM_HEADROOM = 2.0  # rows above the bed top, in bed heights, searched for load
Z_LOW, Z_HIGH = -1.0, 2.0


@dataclass(frozen=True)
class BedGeometry:
    """The bed's crop and lines, in crop coordinates (row 0 = the bed's top row ``y1``).

    Attributes:
        x1, y1, x2, y2: the bed mask's inclusive bounding box in image pixels.
        rim: float64 ``[W_b]`` rim row per column (crop rows).
        floor: float64 ``[W_b]`` floor row per column (crop rows).
        col_height: float64 ``[W_b]`` bed height per column ``h(x)`` in pixels (>= 1).
        bed_top: float64 ``[W_b]`` the bed mask's top row per column (``inf`` without bed).
        height: the bed height ``H_b = median(h)`` in pixels (>= 1).
        area_px: bed mask pixels.
    """

    x1: int
    y1: int
    x2: int
    y2: int
    rim: np.ndarray
    floor: np.ndarray
    col_height: np.ndarray
    bed_top: np.ndarray
    height: float
    area_px: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1 + 1


def _row_weights(height: int, reverse: bool) -> np.ndarray:
    dtype = np.uint16 if height < 2**16 else np.uint32
    rows = np.arange(height, 0, -1) if reverse else np.arange(1, height + 1)
    return rows.astype(dtype)[:, None]


def first_true_row(mask: np.ndarray) -> np.ndarray:
    """int64 ``[W]``: the first True row of each column of a bool ``[H, W]`` (0 when none).

    Same result as ``np.argmax(mask, axis=0)``, several times faster (a row-wise max).
    """
    height = mask.shape[0]
    best = (mask * _row_weights(height, reverse=True)).max(axis=0, initial=0).astype(np.int64)
    return np.where(best > 0, height - best, 0)


def last_true_row(mask: np.ndarray) -> np.ndarray:
    """int64 ``[W]``: the last True row of each column of a bool ``[H, W]`` (``H - 1`` when none).

    Same result as ``H - 1 - np.argmax(mask[::-1], axis=0)``.
    """
    height = mask.shape[0]
    best = (mask * _row_weights(height, reverse=False)).max(axis=0, initial=0).astype(np.int64)
    return np.where(best > 0, best - 1, height - 1)


def _first_true(mask: np.ndarray) -> tuple[int, int] | None:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1])


def _two_point_line(xs: np.ndarray, ys: np.ndarray, width: int) -> np.ndarray:
    """A line through the medians of the left and right halves of ``(xs, ys)``, at 0..width-1."""
    cols = np.arange(width, dtype=np.float64)
    mid = 0.5 * (xs[0] + xs[-1])
    left, right = xs <= mid, xs > mid
    if not left.any() or not right.any():
        return np.full(width, float(np.median(ys)))
    xl, yl = float(np.median(xs[left])), float(np.median(ys[left]))
    xr, yr = float(np.median(xs[right])), float(np.median(ys[right]))
    if xr - xl < 1e-6:
        return np.full(width, 0.5 * (yl + yr))
    slope = (yr - yl) / (xr - xl)
    return yl + slope * (cols - xl)


def bed_geometry(bed_mask: np.ndarray) -> BedGeometry | None:
    """Rim/floor lines and height of a bool ``[H, W]`` bed mask; ``None`` when it is empty."""
    cols = _first_true(bed_mask.any(axis=0))
    if cols is None:
        return None
    x1, x2 = cols
    rows = _first_true(bed_mask[:, x1 : x2 + 1].any(axis=1))
    assert rows is not None
    y1, y2 = rows
    crop = bed_mask[y1 : y2 + 1, x1 : x2 + 1]
    has = crop.any(axis=0)
    xs = np.flatnonzero(has).astype(np.float64)
    first = first_true_row(crop).astype(np.float64)
    bed_top = np.where(has, first, np.inf)
    top = first[has]
    bottom = last_true_row(crop)[has].astype(np.float64)
    width = x2 - x1 + 1
    rim = _two_point_line(xs, top, width)
    floor = _two_point_line(xs, bottom, width)
    col_height = np.maximum(floor - rim + 1.0, 1.0)
    height = max(1.0, float(np.median(col_height)))
    area = int(np.count_nonzero(crop))
    return BedGeometry(x1, y1, x2, y2, rim, floor, col_height, bed_top, height, area)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average with edge padding; ``window`` columns (>= 1)."""
    window = max(1, int(window))
    if window == 1 or values.size == 0:
        return values.astype(np.float64, copy=True)
    pad_l = window // 2
    pad_r = window - 1 - pad_l
    padded = np.pad(values.astype(np.float64), (pad_l, pad_r), mode="edge")
    csum = np.concatenate(([0.0], np.cumsum(padded)))
    return (csum[window:] - csum[:-window]) / window


def water_depth(z: np.ndarray) -> np.ndarray:
    """Depth of water each column would hold if the profile ``z`` were filled like a landscape."""
    if z.size == 0:
        return z.astype(np.float64)
    left = np.maximum.accumulate(z)
    right = np.maximum.accumulate(z[::-1])[::-1]
    return np.minimum(left, right) - z


def count_runs(flags: np.ndarray, min_length: int) -> int:
    """Number of runs of True in a bool ``[N]`` array that are at least ``min_length`` long."""
    if not flags.any():
        return 0
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return int(np.count_nonzero(ends - starts >= max(1, min_length)))
