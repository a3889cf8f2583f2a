"""The typed payloads reject malformed data with messages that say what is expected."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.payloads import (
    VERDICTS,
    Detections,
    InspectionResult,
    LoadFeatures,
    PayloadError,
    SegmentationMasks,
    StageTimings,
    TruckMasks,
    Verdict,
    verdict_from_probability,
)


def test_verdict_strings_are_the_legacy_contract() -> None:
    assert VERDICTS == ("Qualified", "Unqualified", "No Mine Detected")


def test_detections_empty_has_zero_boxes_of_the_right_shapes() -> None:
    d = Detections.empty()
    assert len(d) == 0
    assert d.xyxy.shape == (0, 4)
    assert d.confidence.dtype == np.float32
    assert d.class_id.dtype == np.int32


def test_detections_cast_inputs_to_documented_dtypes() -> None:
    d = Detections([[0, 0, 10, 20]], [0.5], [1])
    assert d.xyxy.dtype == np.float32 and d.class_id.dtype == np.int32
    assert d.area.tolist() == [200.0]


@pytest.mark.parametrize(
    ("xyxy", "confidence", "class_id", "message"),
    [
        ([[0, 0, 1]], [0.5], [0], "expected shape [N, 4]"),
        ([[0, 0, 1, 1]], [0.5, 0.2], [0], "the same N"),
        ([[5, 0, 1, 1]], [0.5], [0], "x2 >= x1"),
        ([[0, 0, 1, 1]], [1.5], [0], "[0, 1]"),
        ([[0, 0, np.nan, 1]], [0.5], [0], "finite"),
        ([["a", 0, 1, 1]], [0.5], [0], "cannot convert"),
    ],
)
def test_detections_reject_malformed_input_with_a_clear_message(
    xyxy: object, confidence: object, class_id: object, message: str
) -> None:
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Detections(xyxy, confidence, class_id)  # type: ignore[arg-type]


def test_detections_roundtrip_through_dict() -> None:
    d = Detections([[1, 2, 3, 4], [5, 6, 7, 8]], [0.9, 0.8], [0, 1])
    back = Detections.from_dict(d.to_dict())
    np.testing.assert_allclose(back.xyxy, d.xyxy)
    assert back.of_class(1).xyxy.tolist() == [[5, 6, 7, 8]]


def test_masks_need_one_iou_per_mask_and_become_bool() -> None:
    m = SegmentationMasks(np.ones((2, 4, 5), np.uint8), [0.9, 0.8])
    assert m.mask_hw.dtype == np.bool_
    assert m.resolution_wh == (5, 4)
    with pytest.raises(PayloadError, match="expected 2 values"):
        SegmentationMasks(np.ones((2, 4, 5), bool), [0.9])
    with pytest.raises(PayloadError, match=r"\[K, H, W\]"):
        SegmentationMasks(np.ones((4, 5), bool), [0.9])


def test_truck_masks_require_matching_shapes_and_clip_scores() -> None:
    t = TruckMasks(np.ones((4, 4)), np.zeros((4, 4)), (0, 0, 4, 4), bed_confidence=1.2)
    assert t.bed_confidence == 1.0 and t.resolution_wh == (4, 4)
    with pytest.raises(PayloadError, match="load_mask"):
        TruckMasks(np.ones((4, 4)), np.zeros((4, 5)), (0, 0, 4, 4))


def test_load_features_are_addressed_by_name_and_reject_non_finite_values() -> None:
    f = LoadFeatures(("fullness", "solidity"), [0.5, 0.9], "1.0")
    assert f["solidity"] == pytest.approx(0.9)
    with pytest.raises(KeyError, match="known: fullness, solidity"):
        f["volume"]
    with pytest.raises(PayloadError, match=r"non-finite values for \['fullness'\]"):
        LoadFeatures(("fullness",), [np.inf], "1.0")
    with pytest.raises(PayloadError, match="one value per name"):
        LoadFeatures(("a", "b"), [1.0], "1.0")


def test_inspection_result_accepts_only_the_three_verdicts() -> None:
    r = InspectionResult("Qualified", 0.8, 0.5, timings=StageTimings({"total": 12.5}))
    assert r.score_result is Verdict.QUALIFIED
    assert r.to_dict(detail=False) == {"score_result": "Qualified"}
    assert r.to_dict()["timings_ms"] == {"total": 12.5}
    with pytest.raises(PayloadError, match="expected one of"):
        InspectionResult("qualified", 0.8, 0.5)
    with pytest.raises(PayloadError, match="probability"):
        InspectionResult("Qualified", 1.8, 0.5)


@pytest.mark.parametrize(
    ("probability", "threshold", "expected"),
    [
        (0.5, 0.5, Verdict.QUALIFIED),
        (0.49, 0.5, Verdict.UNQUALIFIED),
        (0.0, 0.0, Verdict.QUALIFIED),
    ],
)
def test_verdict_is_qualified_at_or_above_the_threshold(
    probability: float, threshold: float, expected: Verdict
) -> None:
    assert verdict_from_probability(probability, threshold) is expected


def test_stage_timings_reject_negative_durations() -> None:
    with pytest.raises(PayloadError, match="invalid duration"):
        StageTimings({"detector": -1.0})
