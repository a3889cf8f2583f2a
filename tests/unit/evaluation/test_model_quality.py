"""loadcheck.evaluation.model_quality: the quality figures on known answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadcheck.evaluation.metrics import BoxPrecision
from loadcheck.evaluation.model_quality import ModelEvaluation, evaluate, format_table
from loadcheck.evaluation.report import read_demo_report
from loadcheck.pipeline.prompts import SamFrame
from loadcheck.synth import render_scene

SIZE = (320, 180)
COUNT = 4


@pytest.fixture
def result(truth_pipeline: Callable[..., Any], tmp_path: Path) -> dict[str, Any]:
    """Figures of a detector that answers the truth and a "SAM" that fills each box."""
    scenes = [render_scene(5, i, SIZE) for i in range(COUNT)]
    run = ModelEvaluation(
        models=tmp_path, seed=5, count=COUNT, size_wh=SIZE, cache=tmp_path, progress=False
    )
    return evaluate(run, truth_pipeline(scenes, answer="boxes"))


def _truth_counts() -> tuple[int, int]:
    scenes = [render_scene(5, i, SIZE) for i in range(COUNT)]
    beds = sum(len(s.trucks) for s in scenes)
    loads = sum(t.load_xyxy is not None for s in scenes for t in s.trucks)
    return beds, loads


def test_a_detector_that_answers_the_truth_scores_ap_one_and_exact_boxes(
    result: dict[str, Any],
) -> None:
    n_beds, n_loads = _truth_counts()
    detector = result["detector"]
    assert detector["per_class"]["bed"]["n_true"] == n_beds
    assert detector["per_class"]["load"]["n_true"] == n_loads
    assert detector["map"] == 1.0
    assert detector["per_class"]["bed"]["recall_at_conf"] == 1.0
    for name, n in (("bed", n_beds), ("load", n_loads)):
        exact = detector["box_precision_at_conf"][name]
        assert exact["n"] == n and exact["mean_iou"] == 1.0 and exact["iou_75"] == 1.0
        assert all(exact[edge] == 0.0 for edge in BoxPrecision.EDGES)


def test_true_and_detected_boxes_give_the_same_masks_when_they_are_the_same_boxes(
    result: dict[str, Any],
) -> None:
    n_beds, n_loads = _truth_counts()
    for frame in ("crop", "whole"):
        by_source = result["masks"]["mean_iou"][frame]
        for name in ("bed", "load"):
            true_boxes, detected = by_source["true_boxes"][name], by_source["detector_boxes"][name]
            assert detected["missed_by_detector"] == 0
            assert detected["n"] == true_boxes["n"] == (n_beds if name == "bed" else n_loads)
            assert detected["mean"] == true_boxes["mean"]
            assert 0.2 < true_boxes["mean"] < 1.0  # a filled box is not the truck's outline


def test_the_fill_is_measured_on_every_scene_with_a_truck(result: dict[str, Any]) -> None:
    fill = result["fill"]
    with_trucks = sum(len(render_scene(5, i, SIZE).trucks) > 0 for i in range(COUNT))
    assert fill["n_loaded"] + fill["n_empty"] == with_trucks
    assert fill["empty_kept_empty"] in (None, 1.0)  # no load box is ever drawn on an empty bed
    assert fill["fullness_mae"] is None or 0.0 <= fill["fullness_mae"] <= 1.0


def test_each_sam_frame_is_asked_for_and_the_table_shows_each(
    truth_pipeline: Callable[..., Any], tmp_path: Path, result: dict[str, Any]
) -> None:
    pipeline = truth_pipeline([render_scene(5, 0, SIZE)], answer="boxes")
    run = ModelEvaluation(
        models=tmp_path, seed=5, count=1, size_wh=SIZE, cache=tmp_path, progress=False
    )
    evaluate(run, pipeline)
    assert set(pipeline.frames) == {SamFrame.CROP, SamFrame.WHOLE}
    table = format_table(result)
    assert "crop  true_boxes" in table and "whole detector_boxes" in table
    assert "mAP@0.5      1.000" in table


def test_the_demo_report_accuracy_is_read_when_present_and_none_otherwise(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    assert read_demo_report(report) is None
    report.write_text(
        json.dumps({"accuracy": 0.95, "chance_accuracy": 0.4, "test": {"count": 20}, "results": []})
    )
    got = read_demo_report(report)
    assert got is not None
    assert got["accuracy"] == 0.95
    assert got["chance_accuracy"] == 0.4
    assert got["test"] == {"count": 20}


def test_an_evaluation_refuses_thresholds_outside_zero_to_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="eval_conf"):
        ModelEvaluation(models=tmp_path, eval_conf=0.0)
