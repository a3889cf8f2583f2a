"""The scorer's verdict metrics against a stand-in of the Python backend's metrics API."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from loadcheck import tensor_names as tn
from loadcheck.monitoring.drift import PSI_LARGE, DriftReference
from loadcheck.payloads import Verdict
from loadcheck.serving import verdict_metrics as vm
from loadcheck.serving.verdict_metrics import ScoredPhoto, ScorerMetrics


class FakeMetric:
    def __init__(self) -> None:
        self.value = 0.0

    def increment(self, by: float) -> None:
        self.value += by

    def set(self, value: float) -> None:
        self.value = value


class FakeFamily:
    COUNTER, GAUGE = "counter", "gauge"
    registry: dict[tuple[str, tuple[tuple[str, str], ...]], FakeMetric]

    def __init__(self, name: str, description: str, kind: str) -> None:
        assert kind in (self.COUNTER, self.GAUGE) and description
        self.name = name

    def Metric(self, labels: dict[str, str]) -> FakeMetric:
        return self.registry.setdefault((self.name, tuple(sorted(labels.items()))), FakeMetric())


def fake_api() -> tuple[Any, dict[tuple[str, tuple[tuple[str, str], ...]], FakeMetric]]:
    registry: dict[tuple[str, tuple[tuple[str, str], ...]], FakeMetric] = {}
    family = type("MetricFamily", (FakeFamily,), {"registry": registry})
    return types.SimpleNamespace(MetricFamily=family), registry


def value(registry: dict[Any, FakeMetric], name: str, **labels: str) -> float:
    return registry[(name, tuple(sorted({"integrator": "site_a", **labels}.items())))].value


def photo(verdict: Verdict, probability: float | None = 0.8, **fields: Any) -> ScoredPhoto:
    defaults: dict[str, Any] = {
        "has_truck": True,
        "detector_confidence": 0.9,
        "mask_iou": 0.95,
        "features": None,
    }
    return ScoredPhoto(verdict, probability, **{**defaults, **fields})


def test_verdicts_and_photos_without_truck_are_counted_per_integrator() -> None:
    api, registry = fake_api()
    metrics = ScorerMetrics(api, "site_a", None)
    for verdict in (Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.UNQUALIFIED):
        metrics.observe(photo(verdict))
    metrics.observe(photo(Verdict.NO_MINE_DETECTED, None, has_truck=False))
    assert value(registry, vm.VERDICTS_TOTAL, verdict="Qualified") == 1
    assert value(registry, vm.VERDICTS_TOTAL, verdict="Unqualified") == 2
    assert value(registry, vm.VERDICTS_TOTAL, verdict="No Mine Detected") == 1
    assert value(registry, vm.NO_TRUCK_TOTAL) == 1
    assert value(registry, vm.RECENT_PHOTOS) == 4


def test_recent_gauges_are_means_of_the_photos_that_have_the_figure() -> None:
    api, registry = fake_api()
    metrics = ScorerMetrics(api, "site_a", None)
    metrics.observe(photo(Verdict.QUALIFIED, 0.9, detector_confidence=0.8, mask_iou=0.9))
    metrics.observe(photo(Verdict.UNQUALIFIED, 0.3, detector_confidence=0.6, mask_iou=0.7))
    metrics.observe(
        photo(
            Verdict.NO_MINE_DETECTED, None, has_truck=False, detector_confidence=None, mask_iou=None
        )
    )
    assert value(registry, vm.RECENT_PROBABILITY) == pytest.approx(0.6)
    assert value(registry, vm.RECENT_DETECTOR_CONFIDENCE) == pytest.approx(0.7)
    assert value(registry, vm.RECENT_MASK_IOU) == pytest.approx(0.8)


def test_the_recent_window_forgets_old_photos() -> None:
    api, registry = fake_api()
    metrics = ScorerMetrics(api, "site_a", None)
    for _ in range(vm.WINDOW):
        metrics.observe(photo(Verdict.QUALIFIED, 0.9))
    for _ in range(vm.WINDOW):
        metrics.observe(photo(Verdict.UNQUALIFIED, 0.1))
    assert value(registry, vm.RECENT_PROBABILITY) == pytest.approx(0.1)
    assert value(registry, vm.RECENT_PHOTOS) == vm.WINDOW


def test_a_photo_is_read_from_the_scorers_tensors() -> None:
    feeds = {
        tn.CLASS_IDS: np.array([1, 1], np.int32),  # loads only: no bed
        tn.SCORES: np.array([0.5, 0.7], np.float32),
        tn.MASK_IOU: np.array([0.8, 1.0], np.float32),
    }
    outputs = {
        tn.SCORE_RESULT: np.array([b"No Mine Detected"], np.object_),
        tn.PROBABILITY: np.array([0.0], np.float32),
        tn.FEATURES: np.zeros(3, np.float32),
    }
    scored = ScoredPhoto.from_tensors(feeds, outputs)
    assert scored.verdict is Verdict.NO_MINE_DETECTED and not scored.has_truck
    assert scored.probability is None and scored.features is None
    assert scored.detector_confidence == pytest.approx(0.6)
    assert scored.mask_iou == pytest.approx(0.9)
    feeds[tn.CLASS_IDS] = np.array([0, 1], np.int32)
    outputs[tn.SCORE_RESULT] = np.array([b"Qualified"], np.object_)
    outputs[tn.PROBABILITY] = np.array([0.75], np.float32)
    scored = ScoredPhoto.from_tensors(feeds, outputs)
    assert scored.has_truck and scored.probability == pytest.approx(0.75)
    assert scored.features is not None and scored.features.shape == (3,)


def test_drift_gauges_rise_when_served_features_come_from_another_distribution() -> None:
    rng = np.random.default_rng(0)
    names = ("fullness", "height")
    reference = DriftReference.from_samples(rng.normal(0, 1, (500, 2)), names)
    api, registry = fake_api()
    metrics = ScorerMetrics(api, "site_a", reference)
    for row in rng.normal(0, 1, (vm.WINDOW, 2)):
        metrics.observe(photo(Verdict.QUALIFIED, features=row.astype(np.float32)))
    same = value(registry, vm.FEATURE_PSI, feature="height")
    for row in rng.normal((0, 3), 1, (vm.WINDOW, 2)):  # height moves by 3 sigma
        metrics.observe(photo(Verdict.QUALIFIED, features=row.astype(np.float32)))
    assert same < PSI_LARGE
    assert value(registry, vm.FEATURE_PSI, feature="height") > 1.0
    assert value(registry, vm.FEATURE_PSI, feature="fullness") < PSI_LARGE
    assert value(registry, vm.FEATURE_OUT_OF_RANGE, feature="height") > 0.3


def test_no_metrics_without_the_metrics_api_or_for_other_steps() -> None:
    from network_cards import synthetic_networks

    from loadcheck.pipeline.declaration import Segmentator

    api, _ = fake_api()
    assert vm.scorer_metrics(Segmentator.from_networks(synthetic_networks()).masks, api) is None
    scorer = types.SimpleNamespace(name="scorer_site_a")
    assert vm.scorer_metrics(scorer, types.SimpleNamespace()) is None


def test_needs_review_photos_and_their_reasons_are_counted_per_integrator() -> None:
    api, registry = fake_api()
    metrics = ScorerMetrics(api, "site_a", None)
    metrics.observe(photo(Verdict.QUALIFIED))
    metrics.observe(photo(Verdict.QUALIFIED, review_codes=("near_threshold",)))
    metrics.observe(
        photo(Verdict.NO_MINE_DETECTED, None, review_codes=("bed_without_load", "load_without_bed"))
    )
    metrics.observe(photo(Verdict.UNQUALIFIED, review_codes=("a_code_from_a_newer_scorer",)))
    assert value(registry, vm.NEEDS_REVIEW_TOTAL) == 3
    assert value(registry, vm.REVIEW_REASONS_TOTAL, reason="near_threshold") == 1
    assert value(registry, vm.REVIEW_REASONS_TOTAL, reason="bed_without_load") == 1
    assert value(registry, vm.REVIEW_REASONS_TOTAL, reason="low_mask_quality") == 0
    assert not any(
        dict(labels).get("reason") == "a_code_from_a_newer_scorer" for _, labels in registry
    )


def test_the_review_flag_is_read_from_the_scorers_review_output() -> None:
    import json

    feeds = {
        tn.CLASS_IDS: np.array([0], np.int32),
        tn.SCORES: np.array([0.5], np.float32),
        tn.MASK_IOU: np.array([0.8], np.float32),
    }
    outputs = {
        tn.SCORE_RESULT: np.array([b"No Mine Detected"], np.object_),
        tn.PROBABILITY: np.array([0.0], np.float32),
        tn.FEATURES: np.zeros(3, np.float32),
    }
    assert ScoredPhoto.from_tensors(feeds, outputs).review_codes == ()  # an older scorer
    review = {"needs_review": True, "reasons": [{"code": "bed_without_load", "message": "m"}]}
    outputs[tn.REVIEW_JSON] = np.array([json.dumps(review).encode()], np.object_)
    scored = ScoredPhoto.from_tensors(feeds, outputs)
    assert scored.needs_review and scored.review_codes == ("bed_without_load",)
