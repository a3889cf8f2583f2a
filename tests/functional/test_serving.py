"""The model repository served by a real tritonserver (CPU, tiny random-weight models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from serving_helpers import Worker, build_repository_for_test, fit_version, join_workers

from loadcheck import tensor_names as tn
from loadcheck.payloads import VERDICTS

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]

SEGMENTATOR_OUTPUTS = (tn.BOXES_XYXY, tn.CLASS_IDS, tn.SCORES, tn.MASKS, tn.MASK_IOU)
WORKERS = 4
REQUESTS_PER_WORKER = 12


def _http_infer(
    url: str, model: str, data: bytes, outputs: tuple[str, ...]
) -> dict[str, np.ndarray]:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    try:
        inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        inp.set_data_from_numpy(np.array([data], np.object_))
        result = client.infer(model, [inp])
        return {name: result.as_numpy(name) for name in outputs}
    finally:
        client.close()


def _grpc_infer(
    url: str, model: str, data: bytes, outputs: tuple[str, ...]
) -> dict[str, np.ndarray]:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        inp = grpcclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        inp.set_data_from_numpy(np.array([data], np.object_))
        result = client.infer(model, [inp])
        return {name: result.as_numpy(name) for name in outputs}
    finally:
        client.close()


def test_segmentator_gives_the_same_answer_over_http_and_grpc(triton, scene_jpegs):
    http = _http_infer(
        triton.http_url, tn.SEGMENTATOR_ENSEMBLE, scene_jpegs[0], SEGMENTATOR_OUTPUTS
    )
    grpc = _grpc_infer(
        triton.grpc_url, tn.SEGMENTATOR_ENSEMBLE, scene_jpegs[0], SEGMENTATOR_OUTPUTS
    )
    assert http[tn.BOXES_XYXY].shape[1] == 4
    assert http[tn.MASKS].shape[1:] == (270, 480)
    assert len(http[tn.BOXES_XYXY]) > 0, "the test repository is built to keep detections"
    for name in SEGMENTATOR_OUTPUTS:
        np.testing.assert_array_equal(http[name], grpc[name])


def test_integrator_answers_with_a_verdict_of_the_public_contract(triton, scene_jpegs):
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.pipeline.scorer import score_segmentation
    from loadcheck.scoring.model import ScoreModel

    outputs = (
        tn.SCORE_RESULT,
        tn.PROBABILITY,
        tn.THRESHOLD,
        tn.FEATURES,
        tn.FEATURE_NAMES,
        tn.TRUCKS_JSON,
        tn.BOXES_XYXY,
    )
    served = _http_infer(
        triton.http_url, f"integrator_{triton.integrator}", scene_jpegs[1], outputs
    )
    verdict = served[tn.SCORE_RESULT][0].decode()
    assert verdict in VERDICTS
    assert len(served[tn.FEATURES]) == len(served[tn.FEATURE_NAMES])
    model = ScoreModel.load(triton.repository / f"scorer_{triton.integrator}" / "1")
    segmentation = PipelineRunner.from_repository(triton.repository).segment(scene_jpegs[1])
    expected = score_segmentation(segmentation.detections, segmentation.masks, model)
    assert verdict == expected.score_result.value
    assert served[tn.PROBABILITY][0] == pytest.approx(expected.probability, abs=1e-5)
    assert json.loads(served[tn.TRUCKS_JSON][0]) == json.loads(expected.trucks_json())


def test_scorer_in_triton_scores_true_masks_of_a_loaded_truck_like_in_process(triton):
    import tritonclient.http as httpclient

    from loadcheck.payloads import Detections, SegmentationMasks
    from loadcheck.pipeline.scorer import score_segmentation
    from loadcheck.scoring.model import ScoreModel
    from loadcheck.synth import render_scene

    scene = next(
        s
        for s in (render_scene(3, i, size_wh=(320, 180)) for i in range(20))
        if any(t.has_load for t in s.trucks)
    )
    boxes, classes, masks = [], [], []
    for truck in scene.trucks:
        boxes.append(truck.bed_xyxy), classes.append(0), masks.append(truck.bed_mask)
        if truck.has_load:
            boxes.append(truck.load_xyxy), classes.append(1), masks.append(truck.load_mask)
    tensors = {
        tn.BOXES_XYXY: np.asarray(boxes, np.float32),
        tn.CLASS_IDS: np.asarray(classes, np.int32),
        tn.SCORES: np.full(len(boxes), 0.9, np.float32),
        tn.MASKS: np.asarray(masks, np.uint8),
        tn.MASK_IOU: np.full(len(boxes), 0.95, np.float32),
    }
    client = httpclient.InferenceServerClient(triton.http_url)
    inputs = []
    for name, value in tensors.items():
        dtype = {np.float32: "FP32", np.int32: "INT32", np.uint8: "UINT8"}[value.dtype.type]
        inp = httpclient.InferInput(name, list(value.shape), dtype)
        inp.set_data_from_numpy(value)
        inputs.append(inp)
    result = client.infer(f"scorer_{triton.integrator}", inputs)
    client.close()
    model = ScoreModel.load(triton.repository / f"scorer_{triton.integrator}" / "1")
    expected = score_segmentation(
        Detections(tensors[tn.BOXES_XYXY], tensors[tn.SCORES], tensors[tn.CLASS_IDS]),
        SegmentationMasks(tensors[tn.MASKS], tensors[tn.MASK_IOU]),
        model,
    )
    assert expected.score_result.value != "No Mine Detected"
    assert result.as_numpy(tn.SCORE_RESULT)[0].decode() == expected.score_result.value
    assert result.as_numpy(tn.PROBABILITY)[0] == pytest.approx(expected.probability, abs=1e-6)
    np.testing.assert_allclose(result.as_numpy(tn.FEATURES), expected.features.values, atol=1e-6)


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_model_repository_api_rejects_a_missing_or_wrong_key(triton, key):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(triton.http_url)
    headers = {triton.api_key_header: key} if key else None
    with pytest.raises(InferenceServerException, match="restricted"):
        client.get_model_repository_index(headers=headers)
    with pytest.raises(InferenceServerException, match="restricted"):
        client.unload_model(tn.SEGMENTATOR_ENSEMBLE, headers=headers)
    assert client.is_model_ready(tn.SEGMENTATOR_ENSEMBLE)
    index = client.get_model_repository_index(headers={triton.api_key_header: triton.api_key})
    assert tn.SEGMENTATOR_ENSEMBLE in {m["name"] for m in index}
    client.close()


def test_grpc_model_control_rejects_a_missing_key(triton):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(triton.grpc_url)
    with pytest.raises(InferenceServerException, match="restricted"):
        client.get_model_repository_index()
    with pytest.raises(InferenceServerException, match="restricted"):
        client.get_model_repository_index(headers={triton.grpc_api_key_header: "wrong"})
    client.get_model_repository_index(headers={triton.grpc_api_key_header: triton.api_key})
    client.close()


def test_deploy_undeploy_and_redeploy_an_integrator_live(triton, scene_jpegs, fit_integrator):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    from loadcheck.serving.deploy import ModelControl, deploy, undeploy
    from loadcheck.serving.state import deployed_integrators

    name = "site_live"
    fit_integrator(triton.repository, name, seed=1)
    control = ModelControl(triton.http_url, triton.api_key)
    deploy(triton.repository, name, control=control, home=triton.repository / "none")
    out = _http_infer(triton.http_url, f"integrator_{name}", scene_jpegs[0], (tn.SCORE_RESULT,))
    assert out[tn.SCORE_RESULT][0].decode() in VERDICTS
    undeploy(triton.repository, name, control)
    assert name not in deployed_integrators(triton.repository)
    with pytest.raises(InferenceServerException):
        _http_infer(triton.http_url, f"integrator_{name}", scene_jpegs[0], (tn.SCORE_RESULT,))
    client = httpclient.InferenceServerClient(triton.http_url)
    assert client.is_model_ready(tn.SEGMENTATOR_ENSEMBLE), "shared models stay loaded"
    client.close()
    fit_integrator(triton.repository, name, version=2, seed=2)
    assert deploy(triton.repository, name, control=control, home=triton.repository / "none") == 2
    out = _http_infer(triton.http_url, f"integrator_{name}", scene_jpegs[0], (tn.SCORE_RESULT,))
    assert out[tn.SCORE_RESULT][0].decode() in VERDICTS
    undeploy(triton.repository, name, control)


def test_bad_requests_interleaved_with_good_ones_from_threads_leave_the_server_healthy(
    triton, scene_jpegs
):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    good = scene_jpegs[2]
    expected = _http_infer(triton.http_url, tn.SEGMENTATOR_ENSEMBLE, good, (tn.BOXES_XYXY,))
    bomb = bytearray(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") + (100_000).to_bytes(4, "big") * 2
    bad_bytes = {
        "empty": b"",
        "not an image": b"hello, world",
        "truncated": good[: len(good) // 3],
        "too many pixels": bytes(bomb) + b"\x08\x02\x00\x00\x00" + b"\x00" * 64,
    }
    errors: list[str] = []

    def worker(seed: int) -> None:
        client = httpclient.InferenceServerClient(triton.http_url, network_timeout=60.0)
        rng = np.random.default_rng(seed)
        for _ in range(REQUESTS_PER_WORKER):
            kind = rng.choice(["good", *bad_bytes, "wrong dtype", "unknown integrator"])
            model = tn.SEGMENTATOR_ENSEMBLE
            inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
            if kind == "wrong dtype":
                inp = httpclient.InferInput(tn.IMAGE_BYTES, [4], "UINT8")
                inp.set_data_from_numpy(np.zeros(4, np.uint8))
            else:
                data = good if kind in ("good", "unknown integrator") else bad_bytes[str(kind)]
                inp.set_data_from_numpy(np.array([data], np.object_))
            if kind == "unknown integrator":
                model = "integrator_nobody"
            try:
                result = client.infer(model, [inp])
                if kind != "good":
                    errors.append(f"{kind}: accepted")
                elif not np.allclose(result.as_numpy(tn.BOXES_XYXY), expected[tn.BOXES_XYXY]):
                    errors.append("good: different boxes")
            except InferenceServerException as exc:
                if kind == "good":
                    errors.append(f"good: {exc}")
                elif kind in bad_bytes and tn.IMAGE_BYTES not in str(exc):
                    errors.append(f"{kind}: message does not name the input: {exc}")
        client.close()

    workers = [Worker(worker, seed, name=f"worker {seed}") for seed in range(WORKERS)]
    for each in workers:
        each.start()
    join_workers(workers, timeout_s=120)  # re-raises a worker's exception, fails on a hang
    assert not errors, errors

    client = httpclient.InferenceServerClient(triton.http_url, network_timeout=60.0)
    assert client.is_server_live()
    assert client.is_model_ready(tn.SEGMENTATOR_ENSEMBLE)
    assert client.is_server_ready(), client.get_model_repository_index(
        headers={triton.api_key_header: triton.api_key}
    )
    client.close()
    after = _http_infer(triton.http_url, tn.SEGMENTATOR_ENSEMBLE, good, (tn.BOXES_XYXY,))
    np.testing.assert_allclose(after[tn.BOXES_XYXY], expected[tn.BOXES_XYXY])


def _served_verdict(client, model: str, data: bytes) -> tuple[str, float, float]:  # type: ignore[no-untyped-def]
    import tritonclient.http as httpclient

    image = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
    image.set_data_from_numpy(np.array([data], np.object_))
    result = client.infer(model, [image])
    return (
        result.as_numpy(tn.SCORE_RESULT)[0].decode(),
        float(result.as_numpy(tn.PROBABILITY)[0]),
        float(result.as_numpy(tn.THRESHOLD)[0]),
    )


def test_a_restarted_server_serves_the_deployed_integrator_at_its_deployed_version(
    tiny_models, scene_jpegs, fit_integrator, tmp_path: Path
):
    import tritonclient.http as httpclient

    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.server import TritonServer

    name, repository = "restart_site", tmp_path / "model_repository"
    build_repository_for_test(tiny_models, repository)
    fit_version(fit_integrator, repository, name, 1, threshold=0.35)
    fit_version(fit_integrator, repository, name, 2, threshold=0.65)  # fitted, not deployed
    assert deploy(repository, name, version=1, home=tmp_path / "no-workspace") == 1
    integrator, scorer = tn.integrator_model_name(name), tn.scorer_model_name(name)
    local = PipelineRunner.from_repository(repository, integrator).inspect(scene_jpegs[0])
    expected = (local.score_result.value, local.probability, local.threshold)
    assert local.threshold == pytest.approx(0.35), "the runner reads the deployed version"

    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        log_path=tmp_path / "tritonserver.log",
        startup_timeout_s=240,
    )

    def ask() -> tuple[str, float, float]:
        client = httpclient.InferenceServerClient(server.http_url)
        try:
            assert client.is_model_ready(integrator)
            assert client.is_model_ready(scorer, "1")
            assert not client.is_model_ready(scorer, "2")
            return _served_verdict(client, integrator, scene_jpegs[0])
        finally:
            client.close()

    with server:
        served = [ask()]
        first = server.process
        assert first is not None
        server.stop()
        assert first.poll() is not None, "the first tritonserver has exited"
        server.start()
        assert server.process is not None and server.process.pid != first.pid
        served.append(ask())
    for verdict, probability, threshold in served:
        assert verdict == expected[0]
        assert probability == pytest.approx(expected[1], abs=1e-5)
        assert threshold == pytest.approx(expected[2]), "version 1's threshold, not version 2's"


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (the Python-backend stubs), in MB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def test_memory_does_not_grow_over_500_mixed_requests(triton, scene_jpegs):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(triton.http_url)
    payloads = [scene_jpegs[3], b"", b"garbage", scene_jpegs[3][:500]]

    def burst(count: int) -> None:
        for i in range(count):
            inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
            good = i % 10 == 0
            inp.set_data_from_numpy(np.array([payloads[0 if good else 1 + i % 3]], np.object_))
            try:
                client.infer(tn.SEGMENTATOR_ENSEMBLE, [inp])
                assert good
            except InferenceServerException:
                assert not good

    pid = triton.server.process.pid
    burst(100)  # warm-up: allocator pools, ORT arenas
    before = _tree_rss_mb(pid)
    burst(500)
    after = _tree_rss_mb(pid)
    client.close()
    print(f"tritonserver + stubs RSS: {before:.0f} MB -> {after:.0f} MB over 500 requests")
    assert after - before < 40.0, f"RSS grew from {before:.0f} MB to {after:.0f} MB"


def test_masks_step_drops_the_dummy_prompt_of_an_image_without_detections(triton):
    import tritonclient.http as httpclient

    tensors = {
        tn.SAM_LOW_RES_MASKS: np.ones((1, 1, 64, 64), np.float32),
        tn.SAM_IOU_PREDICTIONS: np.ones((1, 1), np.float32),
        tn.SAM_REGION_XYWH: np.array([0, 0, 80, 60], np.float32),
        tn.IMAGE_WH: np.array([80, 60], np.int32),
        tn.CLASS_IDS: np.zeros(0, np.int32),
        tn.ORIGINAL_RGB: np.zeros((60, 80, 3), np.uint8),
    }
    types = {np.dtype(np.float32): "FP32", np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8"}
    inputs = []
    for name, value in tensors.items():
        inp = httpclient.InferInput(name, list(value.shape), types[value.dtype])
        inp.set_data_from_numpy(value)
        inputs.append(inp)
    client = httpclient.InferenceServerClient(triton.http_url)
    result = client.infer(tn.MASKS_MODEL, inputs)
    client.close()
    assert result.as_numpy(tn.MASKS).shape == (0, 60, 80)
    assert result.as_numpy(tn.MASK_IOU).shape == (0,)
