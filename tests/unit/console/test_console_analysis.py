"""The console's analysis helpers: ROC, labels CSV, confusion, importance, segmentation JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loadcheck.console.analysis import (
    EvaluatedImage,
    cv_probabilities,
    feature_importance,
    parse_labels_csv,
    roc_curve,
    verdict_confusion,
)
from loadcheck.console.segmentation import SegmentedImage, detections_json
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.errors import IngestError
from loadcheck.payloads import Detections, InspectionResult, SegmentationMasks, Verdict
from loadcheck.scoring.fit import fit_score_model


def test_roc_of_a_perfect_ranking_has_auc_one() -> None:
    fpr, tpr, auc = roc_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert auc == pytest.approx(1.0)
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)


def test_roc_of_a_reversed_ranking_has_auc_zero() -> None:
    _, _, auc = roc_curve(np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert auc == pytest.approx(0.0)


def test_roc_with_tied_scores_is_the_diagonal() -> None:
    fpr, tpr, auc = roc_curve(np.array([0, 1, 0, 1]), np.full(4, 0.5))
    assert auc == pytest.approx(0.5)
    assert list(fpr) == [0.0, 1.0] and list(tpr) == [0.0, 1.0]


def test_labels_csv_with_header_maps_names_to_verdicts() -> None:
    labels = parse_labels_csv(
        "image,label\na.jpg,Qualified\nb.jpg,unqualified\nc.png,No Mine Detected\n"
    )
    assert labels == {
        "a.jpg": Verdict.QUALIFIED,
        "b.jpg": Verdict.UNQUALIFIED,
        "c.png": Verdict.NO_MINE_DETECTED,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.jpg,Full\n", "line 1: label 'Full' is not one of"),
        ("a.jpg\n", "line 1: expected 2 columns"),
        ("image,label\n", "no 'image,label' rows"),
    ],
)
def test_bad_labels_csv_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(IngestError, match=expected):
        parse_labels_csv(text)


def _row(name: str, verdict: Verdict, label: Verdict | None) -> EvaluatedImage:
    return EvaluatedImage(name, b"", InspectionResult(verdict, 0.5, 0.5), label)


def test_confusion_counts_label_rows_against_verdict_columns() -> None:
    rows = [
        _row("a", Verdict.QUALIFIED, Verdict.QUALIFIED),
        _row("b", Verdict.UNQUALIFIED, Verdict.QUALIFIED),
        _row("c", Verdict.NO_MINE_DETECTED, None),
    ]
    assert verdict_confusion(rows) == [[1, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert [r.correct for r in rows] == [True, False, None]


def _separable(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, len(FEATURE_SPEC))).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    return x, y


def test_importance_concentrates_on_the_informative_feature_and_sums_to_one() -> None:
    x, y = _separable()
    model = fit_score_model(x, y, cv_folds=0).model
    importance = feature_importance(model)
    assert sum(importance.values()) == pytest.approx(1.0)
    assert max(importance, key=importance.__getitem__) == FEATURE_SPEC.names[0]


def test_cross_validated_probabilities_rank_a_separable_problem_well() -> None:
    x, y = _separable()
    model = fit_score_model(x, y, cv_folds=0).model
    proba = cv_probabilities(x, y, model, folds=3)
    assert proba.shape == (30,)
    assert roc_curve(y, proba)[2] > 0.8


def test_segmentation_json_lists_boxes_classes_and_scores() -> None:
    dets = Detections(
        np.array([[1, 2, 30, 40]], np.float32), np.array([0.9], np.float32), np.array([0])
    )
    masks = SegmentationMasks(np.ones((1, 50, 50), bool), np.array([0.8], np.float32))
    text = detections_json([SegmentedImage("a.jpg", b"", dets, masks)])
    (item,) = json.loads(text)
    assert item["image"] == "a.jpg"
    assert item["detections"] == [
        {
            "xyxy": [1.0, 2.0, 30.0, 40.0],
            "class_id": 0,
            "class_name": "bed",
            "confidence": 0.9,
            "mask_iou": 0.8,
        }
    ]
