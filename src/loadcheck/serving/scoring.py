"""From segmentator outputs to the integrator's answer (pure; used by ``scorer_<name>``).

Trucks are the beds with their loads (:func:`loadcheck.features.trucks.group_trucks`); a truck
carries mineral when :func:`~loadcheck.features.trucks.is_loaded`. The verdict, from
:func:`loadcheck.scoring.inspect.score_trucks`, is for the most prominent loaded truck
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
    from loadcheck.features.trucks import group_trucks
    from loadcheck.scoring.inspect import score_trucks

    result = score_trucks(group_trucks(detections, masks), model)
    return ScoredImage(
        result.score_result,
        result.probability,
        float(result.threshold),
        result.features if result.trucks else None,  # no loaded truck: no feature vector
        result.trucks,
    )
