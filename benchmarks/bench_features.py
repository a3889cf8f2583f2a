"""Milliseconds per image for the scorer's CPU path: group_trucks + extract_features + predict.

Masks come from synthetic scenes at 1024 x 576 (the served pipeline's mask resolution for a
16:9 camera), one mask per detected bed and load, as the Triton scorer receives them.

    python benchmarks/bench_features.py [--scenes 20] [--repeat 20] [--size 1024x576]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import numpy as np

from loadcheck.features import FEATURE_SPEC, extract_features, group_trucks
from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Detections, SegmentationMasks
from loadcheck.scoring import ScoreModel, fit_score_model


def _pipeline_output(scene) -> tuple[Detections, SegmentationMasks]:
    boxes, classes, masks = [], [], []
    for truck in scene.trucks:
        for mask, box, cls in (
            (truck.bed_mask, truck.bed_xyxy, BED_CLASS_ID),
            (truck.load_mask, truck.load_xyxy, LOAD_CLASS_ID),
        ):
            if box is not None:
                boxes.append(box)
                classes.append(cls)
                masks.append(mask)
    n = len(boxes)
    h, w = scene.bed_mask.shape
    dets = Detections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.full(n, 0.9, np.float32),
        np.asarray(classes, np.int32),
    )
    stacked = np.stack(masks) if masks else np.zeros((0, h, w), bool)
    return dets, SegmentationMasks(stacked, np.full(n, 0.95, np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size", default="1024x576")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    from loadcheck.synth.render import render_scene

    inputs = [_pipeline_output(render_scene(7, i, (w, h))) for i in range(args.scenes)]
    rng = np.random.default_rng(0)
    x = rng.random((200, len(FEATURE_SPEC)), dtype=np.float32)
    fitted = fit_score_model(x, (x[:, 0] > 0.5).astype(int), cv_folds=0).model
    with tempfile.TemporaryDirectory() as tmp:  # served models are loaded from disk
        fitted.save(tmp)
        model = ScoreModel.load(tmp)

    per_image_ms: list[float] = []
    feature_ms: list[float] = []
    for _ in range(args.repeat):
        for dets, masks in inputs:
            t0 = time.perf_counter()
            trucks = group_trucks(dets, masks)
            t1 = time.perf_counter()
            feats = [extract_features(t).values for t in trucks if t.load_mask.any()]
            t2 = time.perf_counter()
            if feats:
                model.predict_proba(np.stack(feats))
            t3 = time.perf_counter()
            per_image_ms.append((t3 - t0) * 1e3)
            feature_ms.append((t2 - t1) * 1e3)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"masks: {w}x{h}, {args.scenes} scenes x {args.repeat} repeats")
    print(
        f"extract_features per image: median {statistics.median(feature_ms):.2f} ms, "
        f"p95 {np.percentile(feature_ms, 95):.2f} ms"
    )
    print(
        f"group_trucks + features + predict per image: median "
        f"{statistics.median(per_image_ms):.2f} ms, p95 {np.percentile(per_image_ms, 95):.2f} ms"
    )


if __name__ == "__main__":
    main()
