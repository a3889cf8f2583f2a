"""``scorer_<integrator>``: the segmentator's boxes and masks -> the verdict.

Trucks are the beds with their loads (:func:`loadcheck.features.trucks.group_trucks`); a truck
carries mineral when :func:`~loadcheck.features.trucks.is_loaded`. The verdict, from
:func:`loadcheck.scoring.verdict.score_trucks`, is for the most prominent loaded truck
(largest bed mask); every loaded truck also gets its own verdict in ``trucks``. The score model
is the integrator's fitted artifact in the model's version folder (XGBoost UBJ + JSON, never a
pickle), loaded once.

Beside the verdict the scorer answers ``REVIEW_JSON`` (:mod:`loadcheck.scoring.review`: whether
the evidence is weak, and why; thresholds from the version's ``scorer.json``) and
``PROVENANCE_JSON`` (the integrator, the scorer version Triton loaded, the repository build and
the networks' model-card hashes, which the repository builder passes in the scorer's config
parameters).

The optional input ``ROI_POLYGON`` (float32 ``[K, 2]``, a camera's region of interest in image
pixels, :mod:`loadcheck.features.roi`) restricts the verdict to the trucks whose bed lies mostly
inside it; without it the whole image is judged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import (
    NOT_FLAGGED,
    Detections,
    LoadFeatures,
    PayloadError,
    ReviewFlag,
    ReviewReason,
    SegmentationMasks,
    ServedProvenance,
    TruckResult,
    Verdict,
)
from loadcheck.pipeline.params import Codec, StepSettings
from loadcheck.pipeline.step import Arrays, Step, StepContext, StepInputError
from loadcheck.pipeline.tensors import TensorSpec, spec

if TYPE_CHECKING:
    from loadcheck.scoring.review import FeatureBounds, ReviewSettings


@dataclass(frozen=True)
class ScoredImage:
    """The scorer's answer for one image (fields map 1:1 to the scorer's output tensors)."""

    score_result: Verdict
    probability: float
    threshold: float
    features: LoadFeatures | None
    trucks: tuple[TruckResult, ...]
    review: ReviewFlag = NOT_FLAGGED

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

    def to_tensors(
        self,
        feature_names: tuple[str, ...],
        spec_version: str,
        provenance: ServedProvenance | None = None,
    ) -> dict[str, Any]:
        """Output tensors of ``scorer_<name>`` (names of :mod:`loadcheck.tensor_names`)."""
        prov = json.dumps(provenance.to_dict() if provenance is not None else None)
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
            tn.REVIEW_JSON: np.array([json.dumps(self.review.to_dict()).encode()], np.object_),
            tn.PROVENANCE_JSON: np.array([prov.encode()], np.object_),
        }


def score_segmentation(
    detections: Detections,
    masks: SegmentationMasks,
    model: Any,
    review: ReviewSettings | None = None,
    roi: Sequence[tuple[float, float]] | None = None,
    bounds: FeatureBounds | None = None,
) -> ScoredImage:
    """Verdict for the most prominent loaded truck, plus one result per loaded truck, and the
    verdict's review flag.

    Args:
        detections: N boxes in original pixels with loadcheck class ids.
        masks: N masks at the original resolution, aligned with ``detections``.
        model: a :class:`loadcheck.scoring.model.ScoreModel` (``predict_proba``, ``threshold``).
        review: the review thresholds (default: :class:`~loadcheck.scoring.review.ReviewSettings`).
        roi: a camera's region of interest (polygon points in image pixels): only the trucks
            with at least :data:`~loadcheck.features.roi.MIN_BED_SHARE_INSIDE` of their bed
            inside it are judged; ``None``: every truck. When no truck lies inside but a loaded
            one lies outside, the "No Mine Detected" answer is flagged ``outside_roi``.
        bounds: the fitting features' ranges for the ``unusual_features`` check, parsed once by
            the caller that serves many photos (:class:`ScorerStep`); ``None``: read from
            ``model``'s metadata (none there: the check is skipped).
    """
    from loadcheck.features.roi import trucks_in_roi
    from loadcheck.features.trucks import group_trucks, loaded_trucks
    from loadcheck.scoring.review import (
        DEFAULT_REVIEW,
        FeatureBounds,
        ReviewCode,
        review_verdict,
    )
    from loadcheck.scoring.verdict import score_trucks

    every_truck = group_trucks(detections, masks)
    trucks = every_truck if roi is None else trucks_in_roi(every_truck, roi)
    result = score_trucks(trucks, model)
    if bounds is None:
        bounds = FeatureBounds.of_metadata(getattr(model, "metadata", None))
    unusual: tuple[str, ...] = ()
    if bounds is not None and result.trucks and result.features is not None:
        unusual = bounds.outside(result.features.names, result.features.values)
    flag = review_verdict(
        result.score_result,
        result.probability,
        float(result.threshold),
        trucks,
        detections,
        masks.resolution_wh,
        review or DEFAULT_REVIEW,
        unusual,
    )
    outside = loaded_trucks(every_truck) if roi is not None and not trucks else []
    if outside and result.score_result is Verdict.NO_MINE_DETECTED:
        reason = ReviewReason(
            ReviewCode.OUTSIDE_ROI,
            f"{len(outside)} loaded truck(s) in view lie outside the camera's region of interest "
            "and were not judged",
        )
        flag = ReviewFlag((*flag.reasons, reason))
    return ScoredImage(
        result.score_result,
        result.probability,
        float(result.threshold),
        result.features if result.trucks else None,  # no loaded truck: no feature vector
        result.trucks,
        flag,
    )


#: The segmentator's outputs: what the scorer reads, and what an integrator returns beside it.
SEGMENTATION_TENSORS: tuple[TensorSpec, ...] = (
    spec(tn.BOXES_XYXY, "float32", -1, 4),
    spec(tn.CLASS_IDS, "int32", -1),
    spec(tn.SCORES, "float32", -1),
    spec(tn.MASKS, "uint8", -1, -1, -1),
    spec(tn.MASK_IOU, "float32", -1),
)
#: The scorer's optional input: a camera's region of interest (:mod:`loadcheck.features.roi`).
ROI_INPUT = spec(tn.ROI_POLYGON, "float32", -1, 2, optional=True)
#: What ``scorer_<name>`` reads: the segmentator's outputs and, when sent, the region of interest.
SCORER_INPUTS: tuple[TensorSpec, ...] = (*SEGMENTATION_TENSORS, ROI_INPUT)
VERDICT_TENSORS: tuple[TensorSpec, ...] = (
    spec(tn.SCORE_RESULT, "bytes", 1),
    spec(tn.PROBABILITY, "float32", 1),
    spec(tn.THRESHOLD, "float32", 1),
    spec(tn.FEATURES, "float32", -1),
    spec(tn.FEATURE_NAMES, "bytes", -1),
    spec(tn.FEATURE_SPEC_VERSION, "bytes", 1),
    spec(tn.TRUCKS_JSON, "bytes", 1),
    spec(tn.REVIEW_JSON, "bytes", 1),
    spec(tn.PROVENANCE_JSON, "bytes", 1),
)


def _format_networks(networks: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(dict(networks).items()))


def _parse_networks(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, eq, digest = item.partition("=")
        if not eq or not name.strip():
            raise ValueError(f"expected NETWORK=SHA256 items separated by ',', got {item!r}")
        out[name.strip()] = digest.strip()
    return out


NETWORKS_CODEC = Codec(_format_networks, _parse_networks)


@dataclass(frozen=True)
class ScorerSettings(StepSettings):
    """What the repository tells the scorer about the build it serves in (its provenance).

    The score model itself (with the integrator's threshold, feature and review settings) is
    the fitted artifact in the version folder.

    Attributes:
        repository_build: the build's id from the repository manifest (``""``: unknown, e.g. a
            repository built before builds had ids).
        networks: the networks' model-card SHA-256 by network name.
    """

    repository_build: str = ""
    networks: Mapping[str, str] = field(default_factory=dict, metadata={"codec": NETWORKS_CODEC})

    def __post_init__(self) -> None:
        object.__setattr__(self, "networks", dict(sorted(dict(self.networks).items())))


class ScorerStep(Step):
    """Inputs: the segmentator's outputs (``BOXES_XYXY`` [N, 4], ``CLASS_IDS`` [N], ``SCORES``
    [N], ``MASKS`` uint8 [N, H, W], ``MASK_IOU`` [N]) and the optional ``ROI_POLYGON`` [K, 2].
    Outputs: ``SCORE_RESULT``,
    ``PROBABILITY``, ``THRESHOLD``, ``FEATURES``, ``FEATURE_NAMES``, ``FEATURE_SPEC_VERSION``,
    ``TRUCKS_JSON``, ``REVIEW_JSON``, ``PROVENANCE_JSON``."""

    kind = "scorer"
    settings_type = ScorerSettings
    settings: ScorerSettings

    def __init__(
        self,
        name: str,
        settings: StepSettings,
        model: Any,
        *,
        version: int | None = None,
        review: ReviewSettings | None = None,
    ) -> None:
        from loadcheck.features.spec import FEATURE_SPEC
        from loadcheck.scoring.review import REVIEW_KEY, FeatureBounds, ReviewSettings

        super().__init__(name, settings)
        self.model = model
        self.feature_names = tuple(FEATURE_SPEC.names)
        self.spec_version = str(FEATURE_SPEC.version)
        if review is None:
            review = ReviewSettings.from_json(getattr(model, "metadata", {}).get(REVIEW_KEY))
        self.review = review
        # parsed once here (bad bounds are refused at load), not per photo
        self.bounds = FeatureBounds.of_metadata(getattr(model, "metadata", None))
        self.provenance = ServedProvenance(
            integrator=name.removeprefix(tn.SCORER_PREFIX),
            scorer_version=version,
            repository_build=self.settings.repository_build or None,
            networks=self.settings.networks,
        )

    @classmethod
    def load(cls, settings: StepSettings, context: StepContext) -> Self:
        """The score model of the version folder; its name is the version Triton loaded.

        Raises:
            ValueError: no version folder, or review settings or feature bounds in
                ``scorer.json`` that do not parse
                (:class:`~loadcheck.scoring.review.ReviewSettingsError`).
        """
        from loadcheck.scoring.model import ScoreModel

        if context.version_dir is None:
            raise ValueError(f"{context.name}: the score model's version folder is needed")
        folder = Path(context.version_dir)
        model = ScoreModel.load(folder)
        version = int(folder.name) if folder.name.isdigit() and int(folder.name) > 0 else None
        return cls(context.name, settings, model, version=version)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return SCORER_INPUTS

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return VERDICT_TENSORS

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        try:
            detections = Detections(feeds[tn.BOXES_XYXY], feeds[tn.SCORES], feeds[tn.CLASS_IDS])
            masks = SegmentationMasks(feeds[tn.MASKS], feeds[tn.MASK_IOU])
        except PayloadError as exc:
            raise StepInputError(str(exc)) from None
        roi = None
        if feeds.get(tn.ROI_POLYGON) is not None:
            from loadcheck.features.roi import RoiError, roi_from_tensor

            try:
                roi = roi_from_tensor(feeds[tn.ROI_POLYGON])
            except RoiError as exc:
                raise StepInputError(f"input {tn.ROI_POLYGON!r}: {exc}") from None
        scored = score_segmentation(detections, masks, self.model, self.review, roi, self.bounds)
        return scored.to_tensors(self.feature_names, self.spec_version, self.provenance)
