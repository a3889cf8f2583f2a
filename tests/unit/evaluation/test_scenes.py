"""loadcheck.evaluation.scenes: the scene cache and the scenes' true prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadcheck.evaluation.scenes import (
    TruthScene,
    load_scene,
    scene_folder,
    synth_fingerprint,
    true_detections,
    true_prompts,
)
from loadcheck.synth import render_scene

SIZE = (320, 180)


def test_a_cached_scene_holds_the_rendered_image_and_per_truck_truth(tmp_path: Path) -> None:
    for index in range(3):
        scene = render_scene(4, index, SIZE)
        first = load_scene(tmp_path, 4, index, SIZE)
        again = load_scene(tmp_path, 4, index, SIZE)  # from the .npz this time
        assert (tmp_path / f"{scene.stem}.npz").is_file()
        for got in (first, again):
            assert got.jpeg == scene.encode_jpeg()
            assert got.label == scene.label.value
            assert len(got.masks[0]) == len(scene.trucks)
            for j, truck in enumerate(scene.trucks):
                assert np.array_equal(got.masks[0][j], truck.bed_mask)
                assert tuple(got.boxes[0][j]) == truck.bed_xyxy
            loaded = [t for t in scene.trucks if t.load_xyxy is not None]
            assert [scene.trucks[i] for i in got.trucks[1]] == loaded
            for j, truck in enumerate(loaded):
                assert np.array_equal(got.masks[1][j], truck.load_mask)
                assert tuple(got.boxes[1][j]) == truck.load_xyxy


def test_the_cache_is_plain_arrays_that_load_without_pickle(tmp_path: Path) -> None:
    load_scene(tmp_path, 4, 0, SIZE)
    (path,) = tmp_path.glob("*.npz")
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    assert not list(tmp_path.glob(".tmp_*"))  # written atomically, nothing left behind


def test_the_cache_folder_names_the_seed_the_size_and_the_renderer(tmp_path: Path) -> None:
    folder = scene_folder(tmp_path, 7, (960, 540))
    assert folder.is_dir()
    assert folder.name == f"s7_960x540_{synth_fingerprint()}"
    assert len(synth_fingerprint()) == 12


def _scene() -> TruthScene:
    return TruthScene(
        "s",
        b"",
        "Qualified",
        (np.zeros((2, 4, 4), bool), np.zeros((1, 4, 4), bool)),
        (np.array([[0, 0, 9, 9], [20, 0, 39, 19]], float), np.array([[1, 2, 8, 9]], float)),
        (np.array([0, 1]), np.array([0])),
    )


def test_true_prompts_are_the_scenes_boxes_beds_first_largest_first() -> None:
    prompts = true_prompts(_scene())
    assert prompts.class_id.tolist() == [0, 0, 1]
    assert prompts.xyxy.tolist()[0] == [20, 0, 39, 19]  # the larger bed first, as served
    assert prompts.xyxy.tolist()[2] == [1, 2, 8, 9]


def test_true_detections_keep_the_scenes_order_of_each_class() -> None:
    found = true_detections(_scene())
    assert found.xyxy.tolist() == [[0, 0, 9, 9], [20, 0, 39, 19], [1, 2, 8, 9]]
    assert found.confidence.tolist() == [1.0, 1.0, 1.0]


def test_a_scene_refuses_truth_whose_masks_boxes_and_truck_indices_disagree() -> None:
    with pytest.raises(ValueError, match="one mask and one box per truck"):
        TruthScene(
            "s",
            b"",
            "Qualified",
            (np.zeros((2, 4, 4), bool), np.zeros((0, 4, 4), bool)),
            (np.zeros((1, 4)), np.zeros((0, 4))),
            (np.array([0, 1]), np.zeros(0, np.int64)),
        )
