"""``scorer_<integrator>``: the segmentator's boxes and masks -> the verdict.

Trucks are the beds with their loads (:func:`loadcheck.features.trucks.group_trucks`); a truck
carries mineral when :func:`~loadcheck.features.trucks.is_loaded`. The verdict, from
:func:`loadcheck.scoring.verdict.score_trucks`, is for the most prominent loaded truck
(largest bed mask); every loaded truck also gets its own verdict in ``trucks``. The score model
is the integrator's fitted artifact in the model's version folder (XGBoost UBJ + JSON, never a
pickle), loaded once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import (
    Detections,
    LoadFeatures,
    PayloadError,
    SegmentationMasks,
    TruckResult,
    Verdict,
)
from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.step import Arrays, Step, StepContext, StepInputError
from loadcheck.pipeline.tensors import TensorSpec, spec


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
    from loadcheck.scoring.verdict import score_trucks

    result = score_trucks(group_trucks(detections, masks), model)
    return ScoredImage(
        result.score_result,
        result.probability,
        float(result.threshold),
        result.features if result.trucks else None,  # no loaded truck: no feature vector
        result.trucks,
    )


#: The segmentator's outputs: what the scorer reads, and what an integrator returns beside it.
SEGMENTATION_TENSORS: tuple[TensorSpec, ...] = (
    spec(tn.BOXES_XYXY, "float32", -1, 4),
    spec(tn.CLASS_IDS, "int32", -1),
    spec(tn.SCORES, "float32", -1),
    spec(tn.MASKS, "uint8", -1, -1, -1),
    spec(tn.MASK_IOU, "float32", -1),
)
VERDICT_TENSORS: tuple[TensorSpec, ...] = (
    spec(tn.SCORE_RESULT, "bytes", 1),
    spec(tn.PROBABILITY, "float32", 1),
    spec(tn.THRESHOLD, "float32", 1),
    spec(tn.FEATURES, "float32", -1),
    spec(tn.FEATURE_NAMES, "bytes", -1),
    spec(tn.FEATURE_SPEC_VERSION, "bytes", 1),
    spec(tn.TRUCKS_JSON, "bytes", 1),
)


@dataclass(frozen=True)
class ScorerSettings(StepSettings):
    """The scorer has no settings of its own: its score model (with the integrator's threshold
    and feature settings) is the fitted artifact in the version folder."""


class ScorerStep(Step):
    """Inputs: the segmentator's outputs (``BOXES_XYXY`` [N, 4], ``CLASS_IDS`` [N], ``SCORES``
    [N], ``MASKS`` uint8 [N, H, W], ``MASK_IOU`` [N]). Outputs: ``SCORE_RESULT``,
    ``PROBABILITY``, ``THRESHOLD``, ``FEATURES``, ``FEATURE_NAMES``, ``FEATURE_SPEC_VERSION``,
    ``TRUCKS_JSON``."""

    kind = "scorer"
    settings_type = ScorerSettings

    def __init__(self, name: str, settings: StepSettings, model: Any) -> None:
        from loadcheck.features.spec import FEATURE_SPEC

        super().__init__(name, settings)
        self.model = model
        self.feature_names = tuple(FEATURE_SPEC.names)
        self.spec_version = str(FEATURE_SPEC.version)

    @classmethod
    def load(cls, settings: StepSettings, context: StepContext) -> Self:
        from loadcheck.scoring.model import ScoreModel

        if context.version_dir is None:
            raise ValueError(f"{context.name}: the score model's version folder is needed")
        return cls(context.name, settings, ScoreModel.load(Path(context.version_dir)))

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return SEGMENTATION_TENSORS

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return VERDICT_TENSORS

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        try:
            detections = Detections(feeds[tn.BOXES_XYXY], feeds[tn.SCORES], feeds[tn.CLASS_IDS])
            masks = SegmentationMasks(feeds[tn.MASKS], feeds[tn.MASK_IOU])
        except PayloadError as exc:
            raise StepInputError(str(exc)) from None
        scored = score_segmentation(detections, masks, self.model)
        return scored.to_tensors(self.feature_names, self.spec_version)
