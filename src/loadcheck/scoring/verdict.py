"""From per-truck masks to the photo's verdict (shared by the CLI and the Triton scorer)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loadcheck.features.extract import extract_features
from loadcheck.features.trucks import loaded_trucks
from loadcheck.payloads import (
    InspectionResult,
    StageTimings,
    TruckMasks,
    TruckResult,
    Verdict,
    verdict_from_probability,
)
from loadcheck.scoring.model import ScoreModel


def score_trucks(
    trucks: Sequence[TruckMasks], model: ScoreModel, timings: StageTimings | None = None
) -> InspectionResult:
    """Score every truck that carries load; the photo's verdict is the most prominent one's.

    ``trucks`` must be sorted most prominent first (as :func:`group_trucks` returns them).
    No loaded truck (:func:`loadcheck.features.trucks.is_loaded`) -> "No Mine Detected" with
    probability 0.
    """
    loaded = loaded_trucks(list(trucks))
    timings = timings or StageTimings()
    if not loaded:
        features = extract_features(trucks[0]) if trucks else None
        return InspectionResult(
            Verdict.NO_MINE_DETECTED, 0.0, model.threshold, features, timings=timings
        )
    feats = [extract_features(t) for t in loaded]
    proba = model.predict_proba(np.stack([f.values for f in feats]))
    results = tuple(
        TruckResult(t.bed_xyxy, verdict_from_probability(float(p), model.threshold), float(p))
        for t, p in zip(loaded, proba, strict=True)
    )
    return InspectionResult(
        results[0].score_result,
        results[0].probability,
        model.threshold,
        feats[0],
        timings=timings,
        trucks=results,
    )
