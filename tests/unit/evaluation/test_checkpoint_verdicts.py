"""loadcheck.evaluation.checkpoint_verdicts: the rim error, and a checkpoint served as exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadcheck.evaluation.checkpoint_verdicts import (
    CheckpointRun,
    checkpoint_pipeline,
    rim_error,
)
from loadcheck.evaluation.metrics import mask_iou
from loadcheck.evaluation.scenes import load_scene, true_prompts
from loadcheck.evaluation.served import ServedPipeline


def test_the_rim_error_is_the_rim_lines_gap_in_true_bed_heights() -> None:
    truth = np.zeros((60, 80), bool)
    truth[20:40, 10:70] = True  # rim at row 20, floor at row 39: 20 rows high
    heaped = truth.copy()
    heaped[15:20, 10:70] = True  # the bed followed a heap 5 rows above the rim
    assert rim_error(truth, truth) == pytest.approx(0.0)
    assert rim_error(heaped, truth) == pytest.approx(5 / 20)
    assert rim_error(np.zeros_like(truth), truth) is None


def test_a_run_refuses_one_seed_for_fitting_and_testing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two different"):
        CheckpointRun(tmp_path / "sam.pth", fit_seed=2, test_seed=2)


@pytest.mark.torch
def test_a_checkpoint_segments_as_its_onnx_export_serves_it(
    tiny_models: Path, tmp_path: Path
) -> None:
    (checkpoint,) = (tiny_models / "checkpoints").glob("sam_*.pth")
    torch_sam = checkpoint_pipeline(checkpoint, "vit_tiny", 256, device="cpu")
    onnx_sam = ServedPipeline.from_networks(tiny_models)
    scene = load_scene(tmp_path, 3, 0, (320, 180))
    prompts = true_prompts(scene)
    got = torch_sam.segment(torch_sam.photo(scene.jpeg), prompts)
    want = onnx_sam.segment(onnx_sam.photo(scene.jpeg), prompts)
    assert got.mask_hw.shape == want.mask_hw.shape == (len(prompts), 180, 320)
    for a, b in zip(got.mask_hw, want.mask_hw, strict=True):
        assert mask_iou(a, b) >= 0.99
    assert np.allclose(got.iou_prediction, want.iou_prediction, atol=1e-3)
