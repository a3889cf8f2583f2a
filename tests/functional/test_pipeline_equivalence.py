"""The in-process runner and Triton give the same answer: boxes, masks and verdict, photo by
photo, for both detector input layouts (uint8 NHWC from ``loadcheck export yolov6``, float32 NCHW
from YOLOv6's own ONNX export adopted with ``--from-onnx``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from loadcheck import tensor_names as tn

pytestmark = [pytest.mark.triton, pytest.mark.torch]

SCENES = 20
INTEGRATOR = "site_a"
OUTPUTS = (
    tn.SCORE_RESULT,
    tn.PROBABILITY,
    tn.FEATURES,
    tn.TRUCKS_JSON,
    tn.BOXES_XYXY,
    tn.CLASS_IDS,
    tn.SCORES,
    tn.MASKS,
    tn.MASK_IOU,
)


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    from loadcheck.synth import render_scene

    return [render_scene(21, i, size_wh=(480, 270)).encode_jpeg() for i in range(SCENES)]


@pytest.fixture(scope="module")
def float_detector_models(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models, with the detector exported as YOLOv6's own exporter writes it (float32
    NCHW in [0, 1]) and adopted with ``loadcheck export yolov6 --from-onnx``."""
    import torch

    from loadcheck.export.yolov6_models import load_yolov6_checkpoint
    from loadcheck.export.yolov6_onnx import import_yolov6_onnx
    from loadcheck.pipeline.cards import ModelCard

    out = tmp_path_factory.mktemp("float_detector")
    for path in tiny_models.glob("sam_*"):
        shutil.copy2(path, out / path.name)
    model = load_yolov6_checkpoint(tiny_models / "checkpoints" / "yolov6_tiny.pt")
    own = out / "yolov6_own.onnx"
    torch.onnx.export(
        model,
        torch.zeros(1, 3, 320, 320),
        str(own),
        input_names=["images"],
        output_names=["outputs"],
        opset_version=13,
        dynamo=False,
    )
    result = import_yolov6_onnx(own, out, classes="bed,load")
    own.unlink()
    assert ModelCard.for_model(result.model).input_contract == "float32_nchw_rgb_unit"
    return out


def _serve(models: Path, root: Path) -> Iterator[tuple[str, Path]]:
    from serving_helpers import build_repository_for_test, fit_test_integrator

    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.server import TritonServer

    repository = root / "model_repository"
    build_repository_for_test(models, repository)
    fit_test_integrator(repository, INTEGRATOR)
    deploy(repository, INTEGRATOR, home=root / "no-workspace")
    server = TritonServer(
        repository, http_port=0, grpc_port=0, metrics_port=0, log_path=root / "triton.log"
    )
    with server:
        yield server.http_url, repository


@pytest.fixture(scope="module")
def float_server(
    float_detector_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    yield from _serve(float_detector_models, tmp_path_factory.mktemp("float_triton"))


def _served(url: str, data: bytes) -> dict[str, np.ndarray]:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    try:
        image = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        image.set_data_from_numpy(np.array([data], np.object_))
        asked = [httpclient.InferRequestedOutput(n) for n in OUTPUTS]
        result = client.infer(tn.integrator_model_name(INTEGRATOR), [image], outputs=asked)
        return {n: result.as_numpy(n) for n in OUTPUTS}
    finally:
        client.close()


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _assert_same_answers(url: str, repository: Path, photos: list[bytes]) -> int:
    """Compare every photo; returns the number of detections compared."""
    from loadcheck.pipeline.runner import PipelineRunner

    runner = PipelineRunner.from_repository(repository, tn.integrator_model_name(INTEGRATOR))
    compared = 0
    for index, data in enumerate(photos):
        served = _served(url, data)
        local = runner(data).tensors
        where = f"photo {index}"
        assert served[tn.SCORE_RESULT][0] == local[tn.SCORE_RESULT][0], where
        assert served[tn.PROBABILITY][0] == pytest.approx(local[tn.PROBABILITY][0], abs=1e-5)
        np.testing.assert_allclose(served[tn.BOXES_XYXY], local[tn.BOXES_XYXY], atol=1e-3)
        np.testing.assert_array_equal(served[tn.CLASS_IDS], local[tn.CLASS_IDS])
        np.testing.assert_allclose(served[tn.SCORES], local[tn.SCORES], atol=1e-5)
        np.testing.assert_allclose(served[tn.FEATURES], local[tn.FEATURES], atol=1e-4)
        assert served[tn.MASKS].shape == local[tn.MASKS].shape, where
        for k, (mine, theirs) in enumerate(zip(served[tn.MASKS], local[tn.MASKS], strict=True)):
            assert _mask_iou(mine > 0, theirs > 0) >= 0.999, f"{where}, mask {k}"
        compared += len(served[tn.BOXES_XYXY])
    return compared


def test_runner_and_triton_agree_with_a_uint8_nhwc_detector(triton, photos):
    compared = _assert_same_answers(triton.http_url, triton.repository, photos)
    assert compared > SCENES, "the test repository keeps detections: masks must be compared"


def test_runner_and_triton_agree_with_a_float32_nchw_detector(float_server, photos):
    from loadcheck.pipeline.runner import PipelineRunner

    url, repository = float_server
    runner = PipelineRunner.from_repository(repository)
    assert runner.step(tn.PREPROCESS_MODEL).outputs[0].dtype == "float32"
    compared = _assert_same_answers(url, repository, photos)
    assert compared > SCENES, "the test repository keeps detections: masks must be compared"
