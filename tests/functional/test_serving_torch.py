"""The ``python-torch`` runtime serves the same answers as the ONNX networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from serving_helpers import segment_served

from loadcheck import tensor_names as tn

pytestmark = [pytest.mark.triton, pytest.mark.torch]


def test_python_torch_runtime_gives_the_onnx_pipelines_boxes_and_masks(
    tiny_models: Path, scene_jpegs: list[bytes], tmp_path: Path
):
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.repository import RepositorySettings, build_repository
    from loadcheck.serving.server import TritonServer

    detector = DetectorSettings(0.3, 0.45, 4)
    onnx_repo, torch_repo = tmp_path / "onnx", tmp_path / "torch"
    build_repository(tiny_models, onnx_repo, RepositorySettings(detector=detector))
    settings = RepositorySettings(
        runtime=dict.fromkeys(("detector", "sam_encoder", "sam_decoder"), "python-torch"),
        detector=detector,
    )
    build_repository(tiny_models, torch_repo, settings)
    assert (torch_repo / "detector" / "1" / "model.ts").is_file()
    assert (torch_repo / "sam_encoder" / "1" / "sam.pth").is_file()
    expected = PipelineRunner.from_repository(onnx_repo).segment(scene_jpegs[0])
    server = TritonServer(
        torch_repo, http_port=0, grpc_port=0, metrics_port=0, log_path=tmp_path / "log.txt"
    )
    with server:
        result = segment_served(server.http_url, scene_jpegs[0])
    np.testing.assert_allclose(result.as_numpy(tn.BOXES_XYXY), expected.detections.xyxy, atol=0.05)
    np.testing.assert_array_equal(result.as_numpy(tn.CLASS_IDS), expected.detections.class_id)
    agree = (result.as_numpy(tn.MASKS) > 0) == expected.masks.mask_hw
    assert agree.mean() > 0.995


def test_fused_sam_gives_the_two_model_pipelines_masks_in_process_and_served(
    tiny_models: Path, scene_jpegs: list[bytes], tmp_path: Path
):
    """``fuse_sam``: SAM's encoder and decoder as one model (embeddings never leave the
    device), warmed up at load, serves what the separate encoder and decoder serve."""
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.config import parse_config
    from loadcheck.serving.repository import RepositorySettings, build_repository
    from loadcheck.serving.server import TritonServer

    torch_only = dict.fromkeys(("detector", "sam_encoder", "sam_decoder"), "python-torch")
    detector = DetectorSettings(0.3, 0.45, 4)
    two, fused = tmp_path / "two", tmp_path / "fused"
    build_repository(tiny_models, two, RepositorySettings(runtime=torch_only, detector=detector))
    settings = RepositorySettings(
        runtime=torch_only, detector=detector, fuse_sam=True, warmup=True, queue_delay_us=0
    )
    build_repository(tiny_models, fused, settings)
    steps = parse_config((fused / "segmentator" / "config.pbtxt").read_text())
    names = [s["model_name"] for s in steps["ensemble_scheduling"]["step"]]
    assert names == ["preprocess", "detector", "prompts", "sam", "masks"]
    assert not (fused / "sam_encoder").exists()
    assert parse_config((fused / "sam" / "config.pbtxt").read_text())["model_warmup"]

    expected = PipelineRunner.from_repository(two)
    in_process = PipelineRunner.from_repository(fused)
    for photo in scene_jpegs[:3]:
        want, got = expected.segment(photo), in_process.segment(photo)
        np.testing.assert_array_equal(got.detections.class_id, want.detections.class_id)
        assert (got.masks.mask_hw == want.masks.mask_hw).mean() > 0.999
    assert len(want.detections.class_id) > 0, "the photos must give SAM something to segment"

    want = expected.segment(scene_jpegs[0])
    server = TritonServer(
        fused, http_port=0, grpc_port=0, metrics_port=0, log_path=tmp_path / "log.txt"
    )
    with server:
        result = segment_served(server.http_url, scene_jpegs[0])
    np.testing.assert_allclose(result.as_numpy(tn.BOXES_XYXY), want.detections.xyxy, atol=0.05)
    assert ((result.as_numpy(tn.MASKS) > 0) == want.masks.mask_hw).mean() > 0.995


def test_fused_sam_needs_python_torch_for_both_sam_networks():
    from loadcheck.serving.repository import RepositoryError, RepositorySettings

    with pytest.raises(RepositoryError, match="python-torch"):
        RepositorySettings(fuse_sam=True)
