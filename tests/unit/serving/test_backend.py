"""The one Python-backend adapter against a stand-in ``triton_python_backend_utils``:
requests, batches, and an error per request that leaves the others answered."""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from network_cards import synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.pipeline.declaration import Segmentator
from loadcheck.pipeline.params import ParamsError
from loadcheck.pipeline.tensors import TensorSpec
from loadcheck.serving.config import Device, DynamicBatching, InstanceGroup, ModelConfig
from loadcheck.serving.layout import python_step_config, step_parameters

CPU = InstanceGroup(1, Device.CPU)


class FakeTensor:
    def __init__(self, name: str, value: Any) -> None:
        self._name, self._value = name, np.asarray(value)

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._value


class FakeError:
    INVALID_ARG = "INVALID_ARG"
    INTERNAL = "INTERNAL"

    def __init__(self, message: str, code: str = "INTERNAL") -> None:
        self._message, self.code = message, code

    def message(self) -> str:
        return self._message


class FakeResponse:
    def __init__(self, output_tensors: list[FakeTensor], error: FakeError | None = None) -> None:
        self.outputs = {t.name(): t.as_numpy() for t in output_tensors}
        self.error = error

    def has_error(self) -> bool:
        return self.error is not None


class FakeRequest:
    def __init__(self, **inputs: Any) -> None:
        self.inputs = {k: FakeTensor(k, v) for k, v in inputs.items()}


def _fake_pb_utils() -> types.ModuleType:
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = FakeTensor  # type: ignore[attr-defined]
    module.TritonError = FakeError  # type: ignore[attr-defined]
    module.InferenceResponse = FakeResponse  # type: ignore[attr-defined]
    module.get_input_tensor_by_name = lambda request, name: request.inputs.get(name)  # type: ignore[attr-defined]
    return module


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _fake_pb_utils())
    monkeypatch.delitem(sys.modules, "loadcheck.serving.backend", raising=False)
    return importlib.import_module("loadcheck.serving.backend")


def _model(backend: types.ModuleType, config: ModelConfig, version_dir: Path, **args: Any) -> Any:
    model = backend.TritonPythonModel()
    model.initialize(
        {
            "model_config": json.dumps(config.to_dict()),
            "model_repository": str(version_dir.parent),
            "model_version": version_dir.name,
            **args,
        }
    )
    return model


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), 90, np.uint8))
    assert ok
    return data.tobytes()


def _image(data: bytes) -> np.ndarray:
    return np.array([data], np.object_)


def test_each_request_gets_its_answer_and_a_bad_one_an_invalid_arg_naming_the_input(
    backend: types.ModuleType, tmp_path: Path
) -> None:
    preprocess = Segmentator.from_networks(synthetic_networks()).preprocess
    model = _model(backend, python_step_config(preprocess, CPU), tmp_path / "1")
    good, text, missing = (
        FakeRequest(**{tn.IMAGE_BYTES: _image(_jpeg())}),
        FakeRequest(**{tn.IMAGE_BYTES: _image(b"hello, not an image")}),
        FakeRequest(),
    )
    responses = model.execute([good, text, missing])
    assert not responses[0].has_error()
    assert set(responses[0].outputs) == {t.name for t in preprocess.outputs}
    assert responses[0].outputs[tn.ORIGINAL_RGB].shape == (48, 64, 3)
    assert responses[0].outputs[tn.DETECTOR_INPUT].shape == (1, 640, 640, 3)
    assert responses[1].error.code == FakeError.INVALID_ARG
    assert "input 'IMAGE'" in responses[1].error.message()
    assert "not an image" in responses[1].error.message()
    assert responses[2].error.code == FakeError.INVALID_ARG
    assert "input 'IMAGE': missing" in responses[2].error.message()


def test_a_wrong_dtype_is_refused_with_the_expected_one(
    backend: types.ModuleType, tmp_path: Path
) -> None:
    masks = Segmentator.from_networks(synthetic_networks()).masks
    model = _model(backend, python_step_config(masks, CPU), tmp_path / "1")
    feeds = {
        tn.SAM_LOW_RES_MASKS: np.zeros((1, 1, 256, 256), np.float64),
        tn.SAM_IOU_PREDICTIONS: np.zeros((1, 1), np.float32),
        tn.SAM_REGION_XYWH: np.array([0, 0, 8, 8], np.float32),
        tn.IMAGE_WH: np.array([8, 8], np.int32),
        tn.CLASS_IDS: np.zeros(0, np.int32),
        tn.ORIGINAL_RGB: np.zeros((8, 8, 3), np.uint8),
    }
    (response,) = model.execute([FakeRequest(**feeds)])
    assert response.error.code == FakeError.INVALID_ARG
    assert "'low_res_masks': expected dtype float32, got float64" in response.error.message()


def _add_one_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 2])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "add", [x], [y], [one]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _network_config(max_batch: int) -> ModelConfig:
    from loadcheck.pipeline.networks import OnnxNetworkSettings, OnnxNetworkStep

    return ModelConfig(
        name="adder",
        backend="python",
        inputs=(TensorSpec("x", "float32", (-1, 2), ("B", "2")),),
        outputs=(TensorSpec("y", "float32", (-1, 2), ("B", "2")),),
        max_batch_size=max_batch,
        dynamic_batching=DynamicBatching(100) if max_batch else None,
        instance_group=CPU,
        parameters=step_parameters(OnnxNetworkStep.kind, OnnxNetworkSettings("model.onnx")),
    )


def test_a_networks_requests_run_as_one_batch(
    backend: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "1").mkdir()
    _add_one_onnx(tmp_path / "1" / "model.onnx")
    model = _model(backend, _network_config(4), tmp_path / "1")
    calls: list[int] = []
    run = model.step.engine.session.run
    monkeypatch.setattr(
        model.step.engine.session,
        "run",
        lambda names, feeds: calls.append(len(feeds["x"])) or run(names, feeds),
    )
    requests = [FakeRequest(x=np.full((1, 2), i, np.float32)) for i in range(3)]
    responses = model.execute(requests)
    assert calls == [3], "three requests of one image each: one run of a batch of three"
    for i, response in enumerate(responses):
        np.testing.assert_array_equal(response.outputs["y"], np.full((1, 2), i + 1, np.float32))


def test_a_bad_request_in_a_batch_fails_alone(backend: types.ModuleType, tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    _add_one_onnx(tmp_path / "1" / "model.onnx")
    model = _model(backend, _network_config(4), tmp_path / "1")
    requests = [
        FakeRequest(x=np.zeros((1, 2), np.float32)),
        FakeRequest(x=np.zeros((1, 3), np.float32)),
        FakeRequest(x=np.ones((1, 2), np.float32)),
    ]
    good, bad, other = model.execute(requests)
    np.testing.assert_array_equal(good.outputs["y"], np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(other.outputs["y"], np.full((1, 2), 2, np.float32))
    assert (
        bad.error.code == FakeError.INVALID_ARG and "expected shape [-1, 2]" in bad.error.message()
    )


def test_an_internal_failure_is_reported_as_internal_and_the_model_keeps_serving(
    backend: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preprocess = Segmentator.from_networks(synthetic_networks()).preprocess
    model = _model(backend, python_step_config(preprocess, CPU), tmp_path / "1")
    original = model.step.compute
    state = {"fail": True}

    def flaky(feeds: Any) -> Any:
        if state.pop("fail", False):
            raise RuntimeError("disk on fire")
        return original(feeds)

    monkeypatch.setattr(model.step, "compute", flaky)
    first, second = model.execute([FakeRequest(**{tn.IMAGE_BYTES: _image(_jpeg())})] * 2)
    assert first.error.code == FakeError.INTERNAL and "disk on fire" in first.error.message()
    assert not second.has_error()


def test_a_gpu_instance_without_a_gpu_runtime_is_refused_at_load(
    backend: types.ModuleType, tmp_path: Path
) -> None:
    from loadcheck.pipeline.networks import NetworkError

    (tmp_path / "1").mkdir()
    _add_one_onnx(tmp_path / "1" / "model.onnx")
    with pytest.raises(NetworkError, match="no CUDAExecutionProvider"):
        _model(backend, _network_config(0), tmp_path / "1", model_instance_kind="GPU")


def test_a_config_without_a_known_step_is_refused_at_load(
    backend: types.ModuleType, tmp_path: Path
) -> None:
    config = ModelConfig(
        name="odd", backend="python", inputs=(), outputs=(), parameters={"step": "nope"}
    )
    with pytest.raises(ParamsError, match="'step' is 'nope'; expected one of"):
        _model(backend, config, tmp_path / "1")


def _scorer(backend: types.ModuleType, tmp_path: Path) -> Any:
    from loadcheck.features.spec import FEATURE_SPEC
    from loadcheck.scoring.fit import fit_score_model
    from loadcheck.serving.layout import scorer_config

    rng = np.random.default_rng(0)
    x = rng.random((20, len(FEATURE_SPEC)), dtype=np.float32)
    version = tmp_path / "scorer_site_a" / "1"
    version.mkdir(parents=True)
    fit_score_model(x, (x[:, 0] > 0.5).astype(int), cv_folds=0).model.save(version)
    return _model(backend, scorer_config("site_a", CPU), version)


def _empty_segmentation() -> FakeRequest:
    return FakeRequest(
        **{
            tn.BOXES_XYXY: np.zeros((0, 4), np.float32),
            tn.CLASS_IDS: np.zeros(0, np.int32),
            tn.SCORES: np.zeros(0, np.float32),
            tn.MASKS: np.zeros((0, 8, 8), np.uint8),
            tn.MASK_IOU: np.zeros(0, np.float32),
        }
    )


def test_a_scorer_without_a_metrics_api_answers(backend: types.ModuleType, tmp_path: Path) -> None:
    model = _scorer(backend, tmp_path)
    assert model.metrics is None
    (response,) = model.execute([_empty_segmentation()])
    assert response.outputs[tn.SCORE_RESULT][0] == b"No Mine Detected"


def test_a_failing_metrics_api_fails_no_request(
    backend: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenMetric:
        def increment(self, by: float) -> None:
            raise RuntimeError("metrics shared memory gone")

        set = increment

    class Family:
        COUNTER, GAUGE = 0, 1

        def __init__(self, **kwargs: Any) -> None:
            pass

        def Metric(self, labels: dict[str, str]) -> BrokenMetric:
            return BrokenMetric()

    monkeypatch.setattr(backend.pb_utils, "MetricFamily", Family, raising=False)
    model = _scorer(backend, tmp_path)
    assert model.metrics is not None
    responses = model.execute([_empty_segmentation(), _empty_segmentation()])
    assert [r.outputs[tn.SCORE_RESULT][0] for r in responses] == [b"No Mine Detected"] * 2
