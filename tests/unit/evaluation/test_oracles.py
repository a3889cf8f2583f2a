"""loadcheck.evaluation.oracles: pairing with the truth, mask substitution, prompt oracles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loadcheck.evaluation.oracles import (
    VERSIONS,
    curve_point,
    oracle_prompts,
    score_versions,
    serve_scenes,
    true_masks_of,
    versions_of,
)
from loadcheck.evaluation.scenes import TruthScene
from loadcheck.payloads import Detections, TruckMasks
from loadcheck.synth import render_scene

SIZE = (320, 180)


def _rect(x1: int, y1: int, x2: int, y2: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _scene() -> TruthScene:
    """Two trucks: 0 (left) carries load, 1 (right) is empty."""
    beds = np.stack([_rect(2, 10, 25, 30), _rect(32, 10, 58, 30)])
    loads = _rect(4, 12, 23, 30)[None]
    return TruthScene(
        "s",
        b"",
        "Qualified",
        (beds, loads),
        (np.zeros((2, 4)), np.zeros((1, 4))),
        (np.array([0, 1]), np.array([0])),
    )


def test_the_true_truck_is_the_one_whose_bed_overlaps_most_with_its_own_load() -> None:
    scene = _scene()
    bed, load = true_masks_of(scene, _rect(30, 8, 50, 30))  # mostly over truck 1
    assert np.array_equal(bed, scene.masks[0][1])
    assert not load.any()  # truck 1 is empty
    bed, load = true_masks_of(scene, _rect(0, 8, 20, 30))
    assert np.array_equal(bed, scene.masks[0][0])
    assert np.array_equal(load, scene.masks[1][0])
    assert true_masks_of(scene, _rect(0, 0, 60, 5)) is None  # overlaps no bed


def test_each_version_swaps_in_only_its_own_true_mask() -> None:
    scene = _scene()
    served = TruckMasks(_rect(1, 8, 26, 30), _rect(5, 9, 22, 30), (1, 8, 26, 30), (5, 9, 22, 30))
    v = versions_of(served, scene)
    assert v["served"] is served
    true_bed, true_load = scene.masks[0][0], scene.masks[1][0]
    assert np.array_equal(v["true_bed"].bed_mask, true_bed)
    assert np.array_equal(v["true_bed"].load_mask, served.load_mask)
    assert np.array_equal(v["true_load"].bed_mask, served.bed_mask)
    assert np.array_equal(v["true_load"].load_mask, true_load)
    assert np.array_equal(v["true_both"].bed_mask, true_bed)
    assert np.array_equal(v["true_both"].load_mask, true_load)
    assert v["true_both"].bed_xyxy == served.bed_xyxy  # the detector's box stays


def test_no_served_truck_scores_as_no_mine_in_every_version() -> None:
    scene = _scene()
    assert versions_of(None, scene) == dict.fromkeys(VERSIONS)
    scored = score_versions(versions_of(None, scene), (40, 60))
    assert not any(s.loaded for s in scored.values())


def test_a_served_truck_over_no_true_bed_keeps_its_masks_in_every_version() -> None:
    served = TruckMasks(_rect(0, 0, 60, 5), _rect(0, 0, 60, 5), (0, 0, 60, 5))
    assert all(v is served for v in versions_of(served, _scene()).values())


def test_oracle_prompts_replace_matched_boxes_or_give_the_truth() -> None:
    true_bed, true_load = [10.0, 10.0, 50.0, 40.0], [12.0, 20.0, 48.0, 40.0]
    scene = TruthScene(
        "s",
        b"",
        "Qualified",
        (np.zeros((1, 60, 80), bool), np.zeros((1, 60, 80), bool)),
        (np.array([true_bed]), np.array([true_load])),
        (np.array([0]), np.array([0])),
    )
    found = Detections(
        np.array([[12, 14, 50, 40], [60, 0, 79, 20], [12, 12, 48, 40]], np.float32),
        np.array([0.9, 0.6, 0.8], np.float32),
        np.array([0, 1, 1], np.int32),  # a bed a little low, a stray load, the load too tall
    )
    assert oracle_prompts(found, scene, "detector") is found
    swapped = oracle_prompts(found, scene, "true-boxes")
    assert swapped.of_class(0).xyxy.tolist() == [true_bed]
    loads = swapped.of_class(1).xyxy.tolist()
    assert loads == [true_load, [60, 0, 79, 20]]  # by confidence; the stray box kept as it was
    truth = oracle_prompts(found, scene, "truth")
    assert truth.xyxy.tolist() == [true_bed, true_load] and truth.class_id.tolist() == [0, 1]
    with pytest.raises(ValueError, match="prompt source"):
        oracle_prompts(found, scene, "guess")


def test_with_true_served_masks_the_true_bed_version_is_the_served_one(
    truth_pipeline: Callable[..., Any], tmp_path: Path
) -> None:
    scenes = [render_scene(5, i, SIZE) for i in range(4)]
    rows = serve_scenes(truth_pipeline(scenes), tmp_path, 5, 4, SIZE)
    assert [label for label, _ in rows] == [s.label.value for s in scenes]
    for _, versions in rows:
        served = versions["served"]
        assert np.array_equal(versions["true_bed"].features, served.features)
        # the served load is every load box grouped onto the bed, the true one the truck's own
        assert all(v.loaded == served.loaded for v in versions.values())


def test_one_fitting_scene_fits_no_integrator_so_its_curve_point_is_none(
    truth_pipeline: Callable[..., Any], tmp_path: Path
) -> None:
    scenes = [render_scene(5, i, SIZE) for i in range(3)]
    rows = serve_scenes(truth_pipeline(scenes), tmp_path, 5, 3, SIZE)
    assert curve_point(rows[:1], rows, "served") is None
