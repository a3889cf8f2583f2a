"""The "needs review" flag: each reason on constructed detections and masks, and its settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from loadcheck import tensor_names as tn
from loadcheck.payloads import (
    BED_CLASS_ID,
    LOAD_CLASS_ID,
    Detections,
    ReviewFlag,
    SegmentationMasks,
    Verdict,
)
from loadcheck.pipeline.scorer import ScorerSettings, ScorerStep, score_segmentation
from loadcheck.scoring.review import (
    FEATURE_BOUNDS_KEY,
    REVIEW_KEY,
    FeatureBounds,
    ReviewCode,
    ReviewSettings,
    ReviewSettingsError,
)

H, W = 120, 200
#: Every check on (the defaults leave the frame and several-trucks checks off).
ALL_ON = ReviewSettings(
    min_detector_confidence=0.5,
    min_mask_iou=0.8,
    probability_margin=0.1,
    frame_margin=0.01,
    several_trucks=True,
)


@dataclass
class _Model:
    """Probability = fullness (the first feature), threshold 0.5."""

    threshold: float = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x, np.float32)[:, 0], 0, 1)


@dataclass
class Box:
    xyxy: tuple[int, int, int, int]
    class_id: int
    confidence: float = 0.9
    iou: float = 0.95


def _scene(*boxes: Box) -> tuple[Detections, SegmentationMasks]:
    masks = []
    for b in boxes:
        m = np.zeros((H, W), bool)
        x0, y0, x1, y1 = b.xyxy
        m[y0:y1, x0:x1] = True
        masks.append(m)
    n = len(boxes)
    return (
        Detections(
            np.array([b.xyxy for b in boxes], np.float32).reshape(n, 4),
            np.array([b.confidence for b in boxes], np.float32),
            np.array([b.class_id for b in boxes], np.int32),
        ),
        SegmentationMasks(
            np.array(masks).reshape(n, H, W), np.array([b.iou for b in boxes], np.float32)
        ),
    )


def _truck(
    x0: int = 40,
    x1: int = 160,
    fill: float = 0.9,
    *,
    bed_conf: float = 0.9,
    load_conf: float = 0.9,
    bed_iou: float = 0.95,
    load_iou: float = 0.95,
) -> list[Box]:
    """A bed at rows 40..100 between x0 and x1, filled to ``fill`` of its height."""
    top = int(100 - 60 * fill)
    return [
        Box((x0, 40, x1, 100), BED_CLASS_ID, bed_conf, bed_iou),
        Box((x0, top, x1, 100), LOAD_CLASS_ID, load_conf, load_iou),
    ]


def _codes(*boxes: Box, settings: ReviewSettings = ALL_ON) -> tuple[str, ...]:
    detections, masks = _scene(*boxes)
    return score_segmentation(detections, masks, _Model(), settings).review.codes


def test_a_clear_full_truck_in_the_middle_of_the_frame_is_not_flagged() -> None:
    detections, masks = _scene(*_truck(fill=0.95))
    scored = score_segmentation(detections, masks, _Model(), ALL_ON)
    assert scored.score_result is Verdict.QUALIFIED
    assert not scored.review.needs_review and scored.review.reasons == ()


def test_an_empty_photo_is_no_mine_detected_and_not_flagged() -> None:
    scored = score_segmentation(Detections.empty(), SegmentationMasks.empty((W, H)), _Model())
    assert scored.score_result is Verdict.NO_MINE_DETECTED
    assert not scored.review.needs_review


@pytest.mark.parametrize(
    ("truck", "code"),
    [
        (_truck(fill=0.95, bed_conf=0.3), ReviewCode.LOW_DETECTOR_CONFIDENCE),
        (_truck(fill=0.95, load_conf=0.2), ReviewCode.LOW_DETECTOR_CONFIDENCE),
        (_truck(fill=0.95, bed_iou=0.5), ReviewCode.LOW_MASK_QUALITY),
        (_truck(fill=0.95, load_iou=0.6), ReviewCode.LOW_MASK_QUALITY),
        (_truck(fill=0.55), ReviewCode.NEAR_THRESHOLD),
        (_truck(x0=0, fill=0.95), ReviewCode.TRUCK_CUT_BY_FRAME),
        (_truck(x1=W, fill=0.95), ReviewCode.TRUCK_CUT_BY_FRAME),
    ],
)
def test_each_weakness_of_the_judged_truck_is_its_one_reason(truck: list[Box], code: str) -> None:
    assert _codes(*truck) == (code,)


def test_a_low_confidence_bed_without_load_flags_no_mine_detected_with_both_reasons() -> None:
    detections, masks = _scene(Box((40, 40, 160, 100), BED_CLASS_ID, confidence=0.2))
    scored = score_segmentation(detections, masks, _Model())
    assert scored.score_result is Verdict.NO_MINE_DETECTED
    assert scored.review.codes == (
        ReviewCode.LOW_DETECTOR_CONFIDENCE,
        ReviewCode.BED_WITHOUT_LOAD,
    )
    messages = " ".join(r.message for r in scored.review.reasons)
    assert "bed 0.20" in messages and "no load" in messages


def test_a_load_beside_the_bed_is_flagged_as_a_load_without_bed() -> None:
    codes = _codes(Box((20, 40, 80, 100), BED_CLASS_ID), Box((120, 50, 190, 100), LOAD_CLASS_ID))
    assert codes == (ReviewCode.BED_WITHOUT_LOAD, ReviewCode.LOAD_WITHOUT_BED)


def test_a_load_and_no_bed_at_all_is_flagged() -> None:
    codes = _codes(Box((120, 50, 190, 100), LOAD_CLASS_ID))
    assert codes == (ReviewCode.LOAD_WITHOUT_BED,)


def test_two_loaded_trucks_are_flagged_and_the_verdict_is_still_the_largest_ones() -> None:
    detections, masks = _scene(*_truck(10, 90, 0.95), *_truck(110, 160, 0.1))
    scored = score_segmentation(detections, masks, _Model(), ALL_ON)
    assert scored.score_result is Verdict.QUALIFIED
    assert scored.review.codes == (ReviewCode.SEVERAL_TRUCKS,)


def test_each_check_is_off_at_zero_or_false() -> None:
    off = ReviewSettings(
        min_detector_confidence=0.0,
        min_mask_iou=0.0,
        probability_margin=0.0,
        frame_margin=0.0,
        bed_without_load=False,
        load_without_bed=False,
        several_trucks=False,
    )
    boxes = [
        *_truck(0, 90, 0.55, bed_conf=0.1, bed_iou=0.1),
        *_truck(110, 160, 0.5),
        Box((170, 10, 200, 30), LOAD_CLASS_ID),
    ]
    assert _codes(*boxes)  # flagged with every check on
    assert _codes(*boxes, settings=off) == ()


def test_settings_round_trip_and_missing_keys_take_the_defaults() -> None:
    settings = ReviewSettings(min_mask_iou=0.7, several_trucks=False)
    assert ReviewSettings.from_json(json.loads(json.dumps(settings.to_json()))) == settings
    assert ReviewSettings.from_json(None) == ReviewSettings()
    assert ReviewSettings.from_json({"min_mask_iou": 0.6}).probability_margin == 0.2
    assert ReviewSettings() == ReviewSettings(0.3, 0.75, 0.2, 0.0, True, True, False)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"min_mask_iou": 1.5}, "min_mask_iou"),
        ({"frame_margin": 0.5}, "frame_margin"),
        ({"probability_margin": "x"}, "probability_margin"),
        ({"several_trucks": "yes"}, "several_trucks"),
        ({"min_unusual_features": 1.5}, "min_unusual_features"),
        ({"min_unusual_features": -1}, "min_unusual_features"),
        ({"min_unusual_features": True}, "min_unusual_features"),
        ({"min_unusual_features": 65}, "min_unusual_features"),
        ({"min_iou": 0.5}, "unknown keys ['min_iou']"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ReviewSettingsError, match=named.replace("[", r"\[").replace("]", r"\]")):
        ReviewSettings.from_json(data)


def test_a_scorer_fitted_before_review_settings_reviews_with_the_defaults() -> None:
    step = ScorerStep("scorer_site_a", ScorerSettings(), _Model(), version=3)
    assert step.review == ReviewSettings()
    strict = _Model(metadata={REVIEW_KEY: {"min_detector_confidence": 0.95}})  # a newer fit
    assert (
        ScorerStep("scorer_site_a", ScorerSettings(), strict).review.min_detector_confidence == 0.95
    )


def _scorer_inputs(detections: Any, masks: Any) -> dict[str, np.ndarray]:
    """The scorer step's input tensors for one segmented scene."""
    return {
        tn.BOXES_XYXY: detections.xyxy,
        tn.CLASS_IDS: detections.class_id,
        tn.SCORES: detections.confidence,
        tn.MASKS: masks.mask_hw.astype(np.uint8),
        tn.MASK_IOU: masks.iou_prediction,
    }


def test_the_scorer_step_answers_the_review_and_its_provenance_as_json() -> None:
    digest = "ab" * 32
    settings = ScorerSettings(
        repository_build="20261205T230000Z-0123", networks={"detector": digest}
    )
    step = ScorerStep("scorer_site_a", settings, _Model(), version=3)
    detections, masks = _scene(*_truck(fill=0.55))
    assert step.review == ReviewSettings()  # _Model has no review block: the defaults
    out = step(_scorer_inputs(detections, masks))
    review = json.loads(out[tn.REVIEW_JSON][0])
    assert review["needs_review"] is True
    assert [r["code"] for r in review["reasons"]] == [ReviewCode.NEAR_THRESHOLD]
    assert ReviewFlag.from_dict(review).codes == (ReviewCode.NEAR_THRESHOLD,)
    assert json.loads(out[tn.PROVENANCE_JSON][0]) == {
        "integrator": "site_a",
        "scorer_version": 3,
        "repository_build": "20261205T230000Z-0123",
        "networks": {"detector": digest},
    }
    assert {s.name for s in step.outputs} == set(out)


def test_feature_bounds_are_the_fitting_quantiles_widened_by_the_margin() -> None:
    x = np.stack([np.arange(101.0), np.full(101, 5.0)], axis=1)  # 0..100 and a constant
    bounds = FeatureBounds.from_samples(x, ["a", "b"], quantile=0.1, margin=0.5)
    assert bounds.low == pytest.approx((10 - 40, 5.0)) and bounds.high == (90 + 40, 5.0)
    # plain JSON numbers in scorer.json, read back as they were written
    again = FeatureBounds.from_json(json.loads(json.dumps(bounds.to_json())))
    assert again == bounds
    assert bounds.outside(["a", "b"], [-31.0, 5.0]) == ("a",)
    assert bounds.outside(["a", "b"], [130.0, 5.5]) == ("b",)
    assert bounds.outside(["b", "c", "a"], [float("nan"), 1e9, 0.0]) == ()  # unknown / NaN


@pytest.mark.parametrize(
    "data", [{"a": [1.0]}, {"a": [2.0, 1.0]}, {"a": ["x", 1.0]}, [1.0, 2.0], {"a": [0.0, "inf"]}]
)
def test_bad_feature_bounds_are_refused(data: Any) -> None:
    with pytest.raises(ReviewSettingsError, match="feature bounds"):
        FeatureBounds.from_json(data)
    with pytest.raises(ReviewSettingsError, match="feature bounds"):
        ScorerStep("scorer_site_a", ScorerSettings(), _Model(metadata={FEATURE_BOUNDS_KEY: data}))


def _bounds_excluding(first: int) -> dict[str, list[float]]:
    """Bounds around the clear full truck's features, the ``first`` ones excluded."""
    detections, masks = _scene(*_truck(fill=0.95))
    features = score_segmentation(detections, masks, _Model()).features
    assert features is not None
    return {
        n: [v + 1.0, v + 2.0] if i < first else [v - 1.0, v + 1.0]
        for i, (n, v) in enumerate(zip(features.names, features.values.tolist(), strict=True))
    }


def test_features_unlike_the_fitting_photos_are_flagged_naming_them() -> None:
    detections, masks = _scene(*_truck(fill=0.95))
    model = _Model(metadata={FEATURE_BOUNDS_KEY: _bounds_excluding(3)})
    scored = score_segmentation(detections, masks, model, ReviewSettings())
    assert scored.score_result is Verdict.QUALIFIED
    assert scored.review.codes == (ReviewCode.UNUSUAL_FEATURES,)
    names = list(_bounds_excluding(3))[:3]
    assert all(n in scored.review.reasons[0].message for n in names)
    assert "3 features" in scored.review.reasons[0].message
    # below the setting's count, or with the check off: not flagged
    few = _Model(metadata={FEATURE_BOUNDS_KEY: _bounds_excluding(2)})
    assert not score_segmentation(detections, masks, few, ReviewSettings()).review.needs_review
    off = ReviewSettings(min_unusual_features=0)
    assert not score_segmentation(detections, masks, model, off).review.needs_review


def test_a_scorer_fitted_before_feature_bounds_skips_the_unusual_features_check() -> None:
    detections, masks = _scene(*_truck(fill=0.95))
    old = _Model(metadata={REVIEW_KEY: ReviewSettings(min_unusual_features=1).to_json()})
    step = ScorerStep("scorer_site_a", ScorerSettings(), old)
    assert step.review.min_unusual_features == 1
    assert not score_segmentation(detections, masks, old, step.review).review.needs_review


def test_the_served_scorer_answers_unusual_features_in_its_review_json() -> None:
    model = _Model(metadata={FEATURE_BOUNDS_KEY: _bounds_excluding(4)})
    step = ScorerStep("scorer_site_a", ScorerSettings(), model, version=2)
    detections, masks = _scene(*_truck(fill=0.95))
    out = step(_scorer_inputs(detections, masks))
    review = json.loads(out[tn.REVIEW_JSON][0])
    assert [r["code"] for r in review["reasons"]] == [ReviewCode.UNUSUAL_FEATURES]
