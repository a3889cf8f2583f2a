"""A small learnable feature table for the scoring tests."""

from __future__ import annotations

import numpy as np

from loadcheck.features import FEATURE_SPEC

FAST = {"n_estimators": 30}  # keep the unit tests quick


def table(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 [n, F] in the spec's ranges; label 1 when fullness >= 0.9 (with 3% label noise)."""
    rng = np.random.default_rng(seed)
    lows = np.array([f.low for f in FEATURE_SPEC.features], np.float32)
    highs = np.array([f.high for f in FEATURE_SPEC.features], np.float32)
    x = (lows + rng.random((n, len(lows))) * (highs - lows)).astype(np.float32)
    full = FEATURE_SPEC.index("fullness")
    x[:, full] = rng.uniform(0.7, 1.0, n)
    y = (x[:, full] >= 0.85).astype(np.int64)
    flip = rng.random(n) < 0.03
    y[flip] = 1 - y[flip]
    return x, y
