"""The ``python-torch`` runtime serves the same answers as the ONNX networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadcheck import tensor_names as tn

pytestmark = [pytest.mark.triton, pytest.mark.torch]


def test_python_torch_runtime_gives_the_onnx_pipelines_boxes_and_masks(
    tiny_models: Path, scene_jpegs: list[bytes], tmp_path: Path
):
    import tritonclient.http as httpclient

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
        client = httpclient.InferenceServerClient(server.http_url)
        inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        inp.set_data_from_numpy(np.array([scene_jpegs[0]], np.object_))
        result = client.infer(tn.SEGMENTATOR_ENSEMBLE, [inp])
        client.close()
    np.testing.assert_allclose(result.as_numpy(tn.BOXES_XYXY), expected.detections.xyxy, atol=0.05)
    np.testing.assert_array_equal(result.as_numpy(tn.CLASS_IDS), expected.detections.class_id)
    agree = (result.as_numpy(tn.MASKS) > 0) == expected.masks.mask_hw
    assert agree.mean() > 0.995
