"""loadcheck.evaluation.metrics: box and mask IoU, matching, AP and the accumulators."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.evaluation.metrics import (
    BoxPrecision,
    ClassAccumulator,
    FillAccumulator,
    average_precision,
    box_iou,
    iou_summary,
    mask_iou,
    match_detections,
)
from loadcheck.evaluation.scenes import TruthScene
from loadcheck.payloads import Detections, TruckMasks

BOX = [0.0, 0.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (BOX, BOX, 1.0),
        (BOX, [5.0, 0.0, 15.0, 10.0], 50 / 150),
        (BOX, [10.0, 0.0, 20.0, 10.0], 0.0),  # touching edges: no overlap
        (BOX, [2.0, 2.0, 4.0, 4.0], 4 / 100),  # contained
        (BOX, [3.0, 3.0, 3.0, 8.0], 0.0),  # degenerate (zero width)
    ],
)
def test_box_iou_matches_hand_computed_overlaps(
    a: list[float], b: list[float], expected: float
) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_box_iou_has_one_row_per_first_box_and_one_column_per_second() -> None:
    assert box_iou(np.zeros((3, 4)), np.zeros((0, 4))).shape == (3, 0)
    assert box_iou(np.array([BOX, BOX]), np.array([BOX])).shape == (2, 1)


def test_box_iou_rejects_boxes_that_are_not_n_by_4() -> None:
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        box_iou(np.zeros((2, 3)), np.zeros((1, 4)))


def test_the_higher_score_wins_a_true_box_two_detections_overlap() -> None:
    pred = np.array([BOX, [0.0, 0.0, 10.0, 9.0]])
    matched = match_detections(pred, np.array([0.3, 0.9]), np.array([BOX]))
    assert matched.tolist() == [-1, 0]


def test_a_detection_takes_the_free_true_box_when_its_best_one_is_taken() -> None:
    truth = np.array([BOX, [0.0, 0.0, 10.0, 7.0]])
    pred = np.array([BOX, BOX])  # IoU 1.0 with truth 0, 0.7 with truth 1
    assert match_detections(pred, np.array([0.9, 0.8]), truth).tolist() == [0, 1]


def test_a_detection_below_the_iou_threshold_is_a_false_positive() -> None:
    pred = np.array([[5.0, 0.0, 15.0, 10.0]])  # IoU 1/3
    assert match_detections(pred, np.array([0.9]), np.array([BOX]), 0.5).tolist() == [-1]
    assert match_detections(pred, np.array([0.9]), np.array([BOX]), 0.3).tolist() == [0]


def test_matching_with_no_truth_or_no_detection_gives_no_match() -> None:
    assert match_detections(np.array([BOX]), np.array([0.5]), np.zeros((0, 4))).tolist() == [-1]
    assert match_detections(np.zeros((0, 4)), np.zeros(0), np.array([BOX])).tolist() == []


def test_matching_rejects_a_score_count_that_differs_from_the_box_count() -> None:
    with pytest.raises(ValueError, match="pred_scores"):
        match_detections(np.array([BOX]), np.array([0.5, 0.4]), np.array([BOX]))


@pytest.mark.parametrize(
    ("scores", "is_tp", "n_true", "expected"),
    [
        ([0.9, 0.8], [True, True], 2, 1.0),  # perfect
        ([0.9], [True], 2, 0.5),  # half the truth found, no false positive
        ([0.9, 0.8], [False, True], 1, 0.5),  # FP ranked first: precision 1/2 at recall 1
        ([0.9, 0.8], [True, False], 1, 1.0),  # FP ranked after the last TP costs nothing
        ([0.9, 0.8, 0.7], [True, False, True], 2, 0.5 + 0.5 * 2 / 3),
        # precision is made monotone: 1/2 at recall 1/3 (rank 2) is lifted to the 2/3 of rank 3
        ([0.9, 0.8, 0.7, 0.6], [False, True, True, False], 3, 1 / 3 * 2 / 3 + 1 / 3 * 2 / 3),
        ([], [], 3, 0.0),  # no detection at all
        ([0.5], [False], 1, 0.0),
    ],
)
def test_average_precision_matches_the_all_point_interpolated_definition(
    scores: list[float], is_tp: list[bool], n_true: int, expected: float
) -> None:
    assert average_precision(np.array(scores), np.array(is_tp, bool), n_true) == pytest.approx(
        expected
    )


def test_average_precision_ranks_by_score_not_by_input_order() -> None:
    ranked = average_precision(np.array([0.9, 0.1]), np.array([True, False]), 1)
    shuffled = average_precision(np.array([0.1, 0.9]), np.array([False, True]), 1)
    assert ranked == shuffled == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scores", "is_tp", "n_true", "message"),
    [
        ([0.5], [True], 0, "n_true"),
        ([0.5, 0.4], [True], 1, "is_tp"),
        ([0.5, 0.4], [True, True], 1, "true positives"),
    ],
)
def test_average_precision_rejects_inconsistent_input(
    scores: list[float], is_tp: list[bool], n_true: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        average_precision(np.array(scores), np.array(is_tp, bool), n_true)


def test_mask_iou_counts_shared_pixels_over_the_union() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), np.uint8)
    a[:2] = True  # 8 pixels
    b[1:3] = 1  # 8 pixels, 4 shared
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(a, a) == 1.0
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert mask_iou(a, ~a) == 0.0


def test_mask_iou_rejects_masks_of_different_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        mask_iou(np.zeros((2, 2)), np.zeros((2, 3)))


def test_accumulated_ap_over_images_equals_ap_of_the_pooled_detections() -> None:
    acc = ClassAccumulator()
    acc.add(np.array([BOX]), np.array([0.9]), np.array([BOX]))  # TP
    acc.add(np.array([BOX]), np.array([0.8]), np.zeros((0, 4)))  # FP: no truth in this image
    acc.add(np.zeros((0, 4)), np.zeros(0), np.array([BOX]))  # missed
    acc.add(np.array([BOX]), np.array([0.7]), np.array([BOX]))  # TP
    assert acc.n_true == 3
    assert acc.n_detections == 3
    assert acc.ap() == pytest.approx(1 / 3 * 1.0 + 1 / 3 * 2 / 3)
    assert acc.precision_recall(0.75) == (pytest.approx(0.5), pytest.approx(1 / 3))
    assert acc.precision_recall(0.95) == (None, 0.0)


def test_ap_is_undefined_without_any_true_box() -> None:
    acc = ClassAccumulator()
    acc.add(np.array([BOX]), np.array([0.9]), np.zeros((0, 4)))
    assert acc.ap() is None
    assert acc.precision_recall(0.5) == (0.0, None)


def test_class_summary_reports_ap_counts_and_precision_recall_at_the_threshold() -> None:
    acc = ClassAccumulator()
    acc.add(np.array([BOX, BOX]), np.array([0.9, 0.2]), np.array([BOX]))
    assert acc.summary(0.5) == {
        "ap": 1.0,
        "n_true": 1,
        "n_detections": 2,
        "precision_at_conf": 1.0,
        "recall_at_conf": 1.0,
    }
    assert acc.summary(0.1)["precision_at_conf"] == 0.5


def test_iou_summary_gives_count_mean_and_median_and_none_when_empty() -> None:
    assert iou_summary([0.5, 1.0, 0.9]) == {"n": 3, "mean": 0.8, "median": 0.9}
    assert iou_summary([]) == {"n": 0, "mean": None, "median": None}


def test_box_precision_reports_each_edge_in_true_box_units() -> None:
    boxes = BoxPrecision(0.5)
    truth = np.array([[100.0, 50.0, 300.0, 150.0]])  # 200 wide, 100 high
    found = Detections(
        np.array([[100.0, 70.0, 300.0, 150.0], [0.0, 0.0, 10.0, 10.0]], np.float32),
        np.array([0.9, 0.8], np.float32),
        np.zeros(2, np.int32),
    )
    boxes.add(0, found, truth)  # the top edge 20 px (0.2 heights) low; the stray box unmatched
    bed = boxes.summary(0)
    assert bed["n"] == 1
    assert bed["top"] == pytest.approx(0.2) and bed["left"] == bed["right"] == bed["bottom"] == 0
    assert bed["mean_iou"] == pytest.approx(0.8) and bed["iou_75"] == 1.0
    assert boxes.summary(1) == {
        "n": 0,
        "mean_iou": None,
        "iou_75": None,
        **dict.fromkeys(BoxPrecision.EDGES),
    }


def _rect(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((60, 80), bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _one_truck(load: np.ndarray | None) -> TruthScene:
    bed = _rect(10, 20, 70, 50)
    loads = (load[None] if load is not None else np.zeros((0, 60, 80), bool),)
    return TruthScene(
        "s",
        b"",
        "Qualified",
        (bed[None], loads[0]),
        (
            np.array([[10.0, 20.0, 70.0, 50.0]]),
            np.array([[10.0, 30.0, 70.0, 50.0]])[: len(loads[0])],
        ),
        (np.array([0]), np.zeros(len(loads[0]), np.int64)),
    )


def test_fill_error_is_zero_when_the_served_truck_is_the_true_one() -> None:
    scene = _one_truck(_rect(10, 30, 70, 50))
    served = TruckMasks(scene.masks[0][0], scene.masks[1][0], (10, 20, 70, 50), (10, 30, 70, 50))
    fill = FillAccumulator()
    fill.add(scene, served)
    fill.add(scene, None)  # nothing served: the served fullness counts as 0
    summary = fill.summary()
    assert summary["n_loaded"] == 2 and summary["n_empty"] == 0
    assert fill.errors[0] == 0.0 and fill.errors[1] > 0.5
    assert summary["fullness_mae_partial"] == summary["fullness_mae"]  # a partly filled bed


def test_an_empty_true_truck_counts_whether_the_served_one_stayed_empty() -> None:
    scene = _one_truck(None)
    bed = scene.masks[0][0]
    fill = FillAccumulator()
    fill.add(scene, TruckMasks(bed, np.zeros_like(bed), (10, 20, 70, 50)))
    fill.add(scene, TruckMasks(bed, _rect(10, 45, 70, 50), (10, 20, 70, 50), (10, 45, 70, 50)))
    assert fill.summary()["empty_kept_empty"] == 0.5
    assert fill.summary()["fullness_mae"] is None
