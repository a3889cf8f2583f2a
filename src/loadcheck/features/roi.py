"""A camera's region of interest (ROI): the polygon in image pixels whose trucks are judged.

A camera watching two loading lanes judges only the lane inside its polygon: a truck is judged
when at least :data:`MIN_BED_SHARE_INSIDE` of its bed mask's pixels lie inside the polygon
(:func:`trucks_in_roi`). Trucks outside are dropped before the verdict; a photo whose trucks all
lie outside is "No Mine Detected".

A polygon is written ``"x1,y1 x2,y2 x3,y3 ..."`` (:func:`parse_roi`, the CLI and the console) and
sent to the scorer as the optional ``ROI_POLYGON`` tensor, float32 ``[K, 2]``
(:func:`roi_tensor`); absent means the whole image. Points are image pixels of the photo as the
pipeline decodes it (EXIF-oriented), ``x`` to the right and ``y`` down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from loadcheck.payloads import TruckMasks

#: Share of a truck's bed-mask pixels that must lie inside the polygon for the truck to be judged.
MIN_BED_SHARE_INSIDE = 0.5
#: At least this many points make a polygon; at most :data:`MAX_POINTS`.
MIN_POINTS = 3
MAX_POINTS = 256
#: Coordinates beyond this (in pixels, either sign) are refused as nonsense.
MAX_COORDINATE = 100_000.0

Point = tuple[float, float]
Polygon = tuple[Point, ...]


class RoiError(ValueError):
    """A region of interest is malformed; the message names what is wrong and what is expected."""


def check_roi(points: Iterable[Sequence[float]]) -> Polygon:
    """``points`` as a polygon of finite ``(x, y)`` pixel points.

    Raises:
        RoiError: fewer than 3 or more than 256 points, a point that is not two numbers, a
            coordinate that is not finite or beyond +-100000, or a polygon of zero area.
    """
    try:
        items = list(points)
    except TypeError:
        raise RoiError("ROI: expected a list of [x, y] points") from None
    out: list[Point] = []
    for i, point in enumerate(items):
        if isinstance(point, str | bytes) or not isinstance(point, Sequence) or len(point) != 2:
            raise RoiError(f"ROI point {i + 1}: expected two numbers [x, y], got {point!r}")
        xy = []
        for v in point:
            if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                raise RoiError(f"ROI point {i + 1}: expected two numbers [x, y], got {point!r}")
            f = float(v)
            if not math.isfinite(f) or abs(f) > MAX_COORDINATE:
                raise RoiError(
                    f"ROI point {i + 1}: coordinate {v!r} is not a finite pixel position "
                    f"(expected within +-{MAX_COORDINATE:g})"
                )
            xy.append(f)
        out.append((xy[0], xy[1]))
    if not MIN_POINTS <= len(out) <= MAX_POINTS:
        raise RoiError(
            f"ROI: expected {MIN_POINTS} to {MAX_POINTS} points (a polygon), got {len(out)}"
        )
    if polygon_area(out) <= 0.0:
        raise RoiError("ROI: the points enclose no area (all on one line?)")
    return tuple(out)


def polygon_area(points: Sequence[Point]) -> float:
    """The polygon's area in square pixels (shoelace; absolute value)."""
    xs = np.array([p[0] for p in points], np.float64)
    ys = np.array([p[1] for p in points], np.float64)
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2.0)


def parse_roi(text: str) -> Polygon:
    """``"x1,y1 x2,y2 x3,y3"`` (spaces or ``;`` between points) -> a checked polygon.

    Raises:
        RoiError: a point that is not ``X,Y`` numbers (named), or a polygon :func:`check_roi`
            refuses.
    """
    items = [p for p in text.replace(";", " ").split() if p]
    points: list[Point] = []
    for i, item in enumerate(items):
        x, comma, y = item.partition(",")
        try:
            if not comma:
                raise ValueError
            points.append((float(x), float(y)))
        except ValueError:
            raise RoiError(
                f"ROI point {i + 1} {item!r}: expected X,Y pixel numbers, points separated by "
                "spaces (e.g. '10,20 300,20 300,400')"
            ) from None
    return check_roi(points)


def format_roi(points: Sequence[Point]) -> str:
    """The text form :func:`parse_roi` reads (``"10,20 300,20 300,400"``)."""
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def roi_tensor(points: Iterable[Sequence[float]]) -> np.ndarray:
    """The ``ROI_POLYGON`` tensor of a checked polygon: float32 ``[K, 2]``."""
    return np.asarray(check_roi(points), np.float32).reshape(-1, 2)


def roi_from_tensor(array: np.ndarray) -> Polygon:
    """The polygon of a ``ROI_POLYGON`` tensor (float ``[K, 2]``).

    Raises:
        RoiError: not ``[K, 2]``, or a polygon :func:`check_roi` refuses.
    """
    value = np.asarray(array)
    if value.ndim != 2 or value.shape[1] != 2:
        raise RoiError(f"ROI_POLYGON: expected shape [K, 2] (K points), got {list(value.shape)}")
    return check_roi(value.astype(np.float64).tolist())


def polygon_mask(points: Iterable[Sequence[float]], shape_hw: tuple[int, int]) -> np.ndarray:
    """bool ``[H, W]``: the pixels inside the polygon (its edges included)."""
    import cv2  # not at module level: the lean client checks polygons without OpenCV

    mask = np.zeros(shape_hw, np.uint8)
    pts = np.round(np.asarray(list(points), np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], (1,))
    return mask.astype(bool)


def share_inside(bed_mask: np.ndarray, inside: np.ndarray) -> float:
    """Share of ``bed_mask``'s pixels where ``inside`` is true (0 for an empty bed)."""
    bed = np.asarray(bed_mask) > 0
    total = int(np.count_nonzero(bed))
    return float(np.count_nonzero(bed & inside)) / total if total else 0.0


def trucks_in_roi(
    trucks: Sequence[TruckMasks],
    points: Iterable[Sequence[float]],
    min_share: float = MIN_BED_SHARE_INSIDE,
) -> list[TruckMasks]:
    """The trucks (in the given order) with at least ``min_share`` of their bed mask's pixels
    inside the polygon."""
    if not trucks:
        return []
    h, w = np.asarray(trucks[0].bed_mask).shape[:2]
    inside = polygon_mask(points, (int(h), int(w)))
    return [t for t in trucks if share_inside(t.bed_mask, inside) >= min_share]
