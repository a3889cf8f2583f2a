"""From segmentator outputs to the integrator's answer (pure; used by ``scorer_<name>``).

Trucks are the beds with their loads (:func:`loadcheck.features.trucks.group_trucks`); trucks
whose load mask is empty carry no mineral. The verdict is for the most prominent loaded truck
(largest bed mask); every loaded truck also gets its own verdict in ``trucks``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadcheck.payloads import (
    Detections,
    LoadFeatures,
    SegmentationMasks,
    TruckResult,
    Verdict,
    verdict_from_probability,
)


@dataclass(frozen=True)
class ScoredImage:
    """The scorer's answer for one image (fields map 1:1 to the scorer's output tensors)."""

    score_result: Verdict
    probability: float
    threshold: float
    features: LoadFeatures | None
    trucks: tuple[TruckResult, ...]

    def trucks_json(self) -> str:
        return json.dumps(
            [
                {
                    "bed_xyxy": [round(c, 2) for c in t.bed_xyxy],
                    "score_result": t.score_result.value,
                    "probability": round(t.probability, 6),
                }
                for t in self.trucks
            ]
        )

    def to_tensors(self, feature_names: tuple[str, ...], spec_version: str) -> dict[str, Any]:
        """Output tensors of ``scorer_<name>`` (names of :mod:`loadcheck.tensor_names`)."""
        from loadcheck import tensor_names as tn

        features = self.features
        names = features.names if features is not None else feature_names
        values = features.values if features is not None else np.zeros(len(names), np.float32)
        return {
            tn.SCORE_RESULT: np.array([self.score_result.value.encode()], np.object_),
            tn.PROBABILITY: np.array([self.probability], np.float32),
            tn.THRESHOLD: np.array([self.threshold], np.float32),
            tn.FEATURES: np.asarray(values, np.float32),
            tn.FEATURE_NAMES: np.array([n.encode() for n in names], np.object_),
            tn.FEATURE_SPEC_VERSION: np.array([spec_version.encode()], np.object_),
            tn.TRUCKS_JSON: np.array([self.trucks_json().encode()], np.object_),
        }


def score_segmentation(detections: Detections, masks: SegmentationMasks, model: Any) -> ScoredImage:
    """Verdict for the most prominent loaded truck, plus one result per loaded truck.

    Args:
        detections: N boxes in original pixels with loadcheck class ids.
        masks: N masks at the original resolution, aligned with ``detections``.
        model: a :class:`loadcheck.scoring.model.ScoreModel` (``predict_proba``, ``threshold``).
    """
    from loadcheck.features.extract import extract_features
    from loadcheck.features.trucks import group_trucks, loaded_trucks

    threshold = float(model.threshold)
    trucks = loaded_trucks(group_trucks(detections, masks))
    if not trucks:
        return ScoredImage(Verdict.NO_MINE_DETECTED, 0.0, threshold, None, ())
    features = [extract_features(t) for t in trucks]
    proba = model.predict_proba(np.stack([f.values for f in features]))
    results = tuple(
        TruckResult(t.bed_xyxy, verdict_from_probability(float(p), threshold), float(p))
        for t, p in zip(trucks, proba, strict=True)
    )
    return ScoredImage(
        results[0].score_result, results[0].probability, threshold, features[0], results
    )
