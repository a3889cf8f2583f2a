"""Verdict metrics scraped from a real tritonserver after known requests (issue 22).

A server of its own serves two integrators, so the counts start at zero and each integrator's
labels are its own. The scorers are sent segmentations whose verdicts are known: an empty one
(no truck: "No Mine Detected") and the true masks of a loaded synthetic truck (its verdict
computed in-process with the same score model). The dashboard and the alert rules in docker/
are checked against the names of this live scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_helpers import build_repository_for_test

from loadcheck import tensor_names as tn
from loadcheck.serving import verdict_metrics as vm

pytestmark = [pytest.mark.triton, pytest.mark.torch]

INTEGRATORS = ("site_a", "site_b", "drift_site")
API_KEY = "metrics-key"
ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class MetricsServer:
    http_url: str
    metrics_url: str
    repository: Path


@pytest.fixture(scope="module")
def metrics_server(
    tiny_models: Path, fit_integrator: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MetricsServer]:
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.server import TritonServer

    root = tmp_path_factory.mktemp("verdict_metrics")
    repository = root / "model_repository"
    build_repository_for_test(tiny_models, repository)
    for seed, name in enumerate(INTEGRATORS):
        fit_integrator(repository, name, seed=seed)
        deploy(repository, name, home=root / "no-workspace")
    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        api_key=API_KEY,
        log_path=root / "tritonserver.log",
        startup_timeout_s=240,
    )
    with server:
        yield MetricsServer(server.http_url, server.metrics_url, repository)


def scrape(url: str) -> Samples:
    """Every sample of Triton's metrics page, parsed by prometheus_client."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _empty() -> dict[str, np.ndarray]:
    return {
        tn.BOXES_XYXY: np.zeros((0, 4), np.float32),
        tn.CLASS_IDS: np.zeros(0, np.int32),
        tn.SCORES: np.zeros(0, np.float32),
        tn.MASKS: np.zeros((0, 180, 320), np.uint8),
        tn.MASK_IOU: np.zeros(0, np.float32),
    }


def _loaded_truck() -> dict[str, np.ndarray]:
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
    return {
        tn.BOXES_XYXY: np.asarray(boxes, np.float32),
        tn.CLASS_IDS: np.asarray(classes, np.int32),
        tn.SCORES: np.full(len(boxes), 0.8, np.float32),
        tn.MASKS: np.asarray(masks, np.uint8),
        tn.MASK_IOU: np.full(len(boxes), 0.9, np.float32),
    }


def _score(client: Any, integrator: str, tensors: dict[str, np.ndarray]) -> str:
    """The verdict of ``scorer_<integrator>`` for a segmentation (a tritonclient.http client)."""
    import tritonclient.http as httpclient

    types = {np.dtype(np.float32): "FP32", np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8"}
    inputs = []
    for name, value in tensors.items():
        tensor = httpclient.InferInput(name, list(value.shape), types[value.dtype])
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    result = client.infer(tn.scorer_model_name(integrator), inputs)
    return str(result.as_numpy(tn.SCORE_RESULT)[0].decode())


@pytest.fixture(scope="module")
def after_known_requests(metrics_server: MetricsServer) -> tuple[Samples, dict[str, list[str]]]:
    """Site A: 3 loaded trucks and 2 empty photos; site B: 1 empty photo; drift_site: one loaded
    truck, the same photo as often as drift needs (identical features: the largest drift). The
    scrape after."""
    import tritonclient.http as httpclient

    served: dict[str, list[str]] = {name: [] for name in INTEGRATORS}
    client = httpclient.InferenceServerClient(metrics_server.http_url)
    for name, requests in (
        ("site_a", [_loaded_truck()] * 3 + [_empty()] * 2),
        ("site_b", [_empty()]),
        ("drift_site", [_loaded_truck()] * vm.DRIFT_MIN_SAMPLES),
    ):
        for tensors in requests:
            served[name].append(_score(client, name, tensors))
    client.close()
    return scrape(metrics_server.metrics_url), served


def test_verdicts_are_counted_per_integrator_and_verdict(metrics_server, after_known_requests):
    from loadcheck.payloads import Detections, SegmentationMasks
    from loadcheck.pipeline.scorer import score_segmentation
    from loadcheck.scoring.model import ScoreModel

    samples, served = after_known_requests
    truck = _loaded_truck()
    model = ScoreModel.load(metrics_server.repository / "scorer_site_a" / "1")
    expected = score_segmentation(
        Detections(truck[tn.BOXES_XYXY], truck[tn.SCORES], truck[tn.CLASS_IDS]),
        SegmentationMasks(truck[tn.MASKS], truck[tn.MASK_IOU]),
        model,
    ).score_result.value
    assert served["site_a"] == [expected] * 3 + ["No Mine Detected"] * 2
    assert sample(samples, vm.VERDICTS_TOTAL, integrator="site_a", verdict=expected) == 3
    assert sample(samples, vm.VERDICTS_TOTAL, integrator="site_a", verdict="No Mine Detected") == 2
    assert sample(samples, vm.VERDICTS_TOTAL, integrator="site_b", verdict="No Mine Detected") == 1
    assert sample(samples, vm.VERDICTS_TOTAL, integrator="site_b", verdict=expected) == 0
    assert sample(samples, vm.NO_TRUCK_TOTAL, integrator="site_a") == 2
    assert sample(samples, vm.NO_TRUCK_TOTAL, integrator="site_b") == 1


def test_recent_gauges_show_the_photos_figures(after_known_requests):
    samples, _ = after_known_requests
    site_a = {"integrator": "site_a"}
    assert sample(samples, vm.RECENT_PHOTOS, **site_a) == 5
    assert sample(samples, vm.RECENT_DETECTOR_CONFIDENCE, **site_a) == pytest.approx(0.8)
    assert sample(samples, vm.RECENT_MASK_IOU, **site_a) == pytest.approx(0.9)
    assert 0.0 <= sample(samples, vm.RECENT_PROBABILITY, **site_a) <= 1.0
    assert sample(samples, vm.RECENT_PHOTOS, integrator="site_b") == 1


def test_drift_of_one_repeated_truck_is_large_for_every_varying_feature(
    metrics_server, after_known_requests
):
    from loadcheck.monitoring.drift import PSI_LARGE, DriftReference
    from loadcheck.scoring.model import ScoreModel

    samples, _ = after_known_requests
    model = ScoreModel.load(metrics_server.repository / "scorer_drift_site" / "1")
    reference = DriftReference.from_json(model.metadata["drift_reference"])
    varying = [f.name for f in reference.features if f.edges]
    assert varying, "the fitting data has features that vary"
    for name in varying:
        psi = sample(samples, vm.FEATURE_PSI, integrator="drift_site", feature=name)
        assert psi > PSI_LARGE, f"{name}: PSI {psi} of one truck repeated 30 times"
    assert not any(
        labels and dict(labels).get("integrator") == "site_a"
        for (name, labels) in samples
        if name == vm.FEATURE_PSI
    ), "site A scored fewer trucks than drift needs"


def test_the_dashboard_and_the_alert_rules_read_only_metrics_of_the_live_scrape(
    metrics_server, after_known_requests
):
    from loadcheck.monitoring.promql import dashboard_expressions, metric_names, rule_expressions

    _, _ = after_known_requests  # every loadcheck metric, drift included, is published now
    import urllib.request

    with urllib.request.urlopen(metrics_server.metrics_url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    live = {line.split("{")[0].split(" ")[0] for line in lines if line and not line.startswith("#")}
    monitoring = ROOT / "docker" / "monitoring"
    expressions = {
        **rule_expressions(monitoring / "alerts.yml"),
        **dashboard_expressions(monitoring / "grafana" / "dashboards" / "loadcheck.json"),
    }
    for where, expr in expressions.items():
        # up: Prometheus' own, per scrape target; the gateway's series are checked against a
        # live gateway's /metrics in test_gateway_observability.py, the console's against a
        # live console's in tests/unit/console/test_console_metrics.py
        gateway = {
            n
            for n in metric_names(expr)
            if n.startswith(("loadcheck_gateway_", "loadcheck_console_"))
        }
        missing = metric_names(expr) - live - {"up"} - gateway
        assert not missing, f"{where} reads {sorted(missing)}, which Triton does not publish"
    assert set(vm.METRIC_NAMES) <= live


def test_needs_review_verdicts_are_counted_with_their_reasons(metrics_server, after_known_requests):
    from loadcheck.payloads import Detections, SegmentationMasks
    from loadcheck.pipeline.scorer import score_segmentation
    from loadcheck.scoring.model import ScoreModel
    from loadcheck.scoring.review import ReviewCode

    samples, _ = after_known_requests
    truck = _loaded_truck()
    model = ScoreModel.load(metrics_server.repository / "scorer_site_a" / "1")
    review = score_segmentation(
        Detections(truck[tn.BOXES_XYXY], truck[tn.SCORES], truck[tn.CLASS_IDS]),
        SegmentationMasks(truck[tn.MASKS], truck[tn.MASK_IOU]),
        model,
    ).review
    # site A: the loaded truck 3 times (flagged or not as in-process), 2 empty photos (never)
    flagged = 3 if review.needs_review else 0
    assert sample(samples, vm.NEEDS_REVIEW_TOTAL, integrator="site_a") == flagged
    assert sample(samples, vm.NEEDS_REVIEW_TOTAL, integrator="site_b") == 0
    for code in ReviewCode:
        want = 3 if code in review.codes else 0
        got = sample(samples, vm.REVIEW_REASONS_TOTAL, integrator="site_a", reason=code.value)
        assert got == want, code
    assert (vm.NEEDS_REVIEW_TOTAL, frozenset({("integrator", "site_b")})) in samples
