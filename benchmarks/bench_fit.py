"""Seconds to fit a score model on 1,000 samples, per model type (with and without 5-fold CV).

The feature table is drawn uniformly inside each feature's documented range with a
threshold rule as label (fitting time does not depend on where the numbers come from).

    python benchmarks/bench_fit.py [--samples 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from loadcheck.features import FEATURE_SPEC
from loadcheck.scoring import MODEL_TYPES, fit_score_model
from loadcheck.scoring.fit import _threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lows = np.array([f.low for f in FEATURE_SPEC.features], np.float32)
    highs = np.array([f.high for f in FEATURE_SPEC.features], np.float32)
    x = (lows + rng.random((args.samples, len(lows))) * (highs - lows)).astype(np.float32)
    full, pit = FEATURE_SPEC.index("fullness"), FEATURE_SPEC.index("roughness_pit_depth")
    y = ((x[:, full] > 0.9) & (x[:, pit] < 0.5)).astype(int)
    print(
        f"{args.samples} samples x {len(FEATURE_SPEC)} features, {_threads()} XGBoost threads, "
        f"{os.cpu_count()} CPUs"
    )
    for name in MODEL_TYPES:
        for folds in (0, 5):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = fit_score_model(x, y, model_type=name, cv_folds=folds)
                times.append(time.perf_counter() - t0)
            cv = f", cv accuracy {result.cv.accuracy:.3f}" if result.cv else ""
            label = "fit only" if folds == 0 else "5-fold CV + fit"
            print(f"{name:15s} {label:16s} best {min(times):.3f} s{cv}")


if __name__ == "__main__":
    main()
