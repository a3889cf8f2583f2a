"""Analytic shapes for the feature tests (no dependency on the synthetic scenes)."""

from __future__ import annotations

import numpy as np

from loadcheck.payloads import TruckMasks


def bed_rect(h: int = 400, w: int = 640, box: tuple[int, int, int, int] = (100, 200, 500, 300)):
    """bool [h, w] with the bed rectangle x1, y1, x2, y2 (exclusive ends) set."""
    x1, y1, x2, y2 = box
    mask = np.zeros((h, w), bool)
    mask[y1:y2, x1:x2] = True
    return mask


def truck(bed: np.ndarray, load: np.ndarray, **kw) -> TruckMasks:
    ys, xs = np.nonzero(bed)
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return TruckMasks(bed, load, box, **kw)
