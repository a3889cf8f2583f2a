"""What each integrator decides, as Prometheus metrics published from inside Triton.

The scorer step stays pure; the Python-backend adapter (:mod:`loadcheck.serving.backend`) hands
each answered request's inputs and outputs to :class:`ScorerMetrics`, which publishes them
through the Python backend's metrics API (``pb_utils.MetricFamily``). Triton serves them on its
metrics port (8002) beside its own ``nv_*`` metrics. Label ``integrator`` is the integrator's
name (model ``scorer_<name>``).

=============================================  =======  ===========================================
metric                                          kind     meaning
=============================================  =======  ===========================================
``loadcheck_verdicts_total{verdict}``           counter  answered photos by verdict
``loadcheck_photos_without_truck_total``        counter  photos where the detector found no bed
``loadcheck_needs_review_total``                counter  answered photos flagged "needs review"
``loadcheck_review_reasons_total{reason}``      counter  flagged photos by review reason code
``loadcheck_recent_photos``                     gauge    photos in the recent window (<= WINDOW)
``loadcheck_recent_probability``                gauge    mean probability, recent loaded trucks
``loadcheck_recent_detector_confidence``        gauge    mean detector confidence, recent photos
``loadcheck_recent_mask_iou``                   gauge    mean SAM predicted mask IoU, recent photos
``loadcheck_feature_psi{feature}``              gauge    PSI of recent features vs. the fitting data
``loadcheck_feature_out_of_range_share{...}``   gauge    share of recent features outside its range
=============================================  =======  ===========================================

The recent window is the last :data:`WINDOW` photos of one model instance. Drift
(:mod:`loadcheck.monitoring.drift`) is measured every :data:`DRIFT_EVERY` loaded trucks once
:data:`DRIFT_MIN_SAMPLES` are in the window, when the score model carries its fitting data's
reference (models fitted before it did have no drift metrics). Publishing never fails a request:
a missing metrics API or a failing publish is logged and the answer goes out.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.monitoring.drift import REFERENCE_KEY, DriftError, DriftReference, measure_drift
from loadcheck.payloads import CLASS_NAMES, LoadClass, Verdict

LOGGER = logging.getLogger(__name__)

#: Photos in the recent window of the gauges (per model instance).
WINDOW = 300
#: Loaded trucks needed in the window before drift is measured, and how often it is remeasured.
DRIFT_MIN_SAMPLES = 200
DRIFT_EVERY = 10
BED_CLASS_ID = CLASS_NAMES.index(LoadClass.BED.value)

VERDICTS_TOTAL = "loadcheck_verdicts_total"
NO_TRUCK_TOTAL = "loadcheck_photos_without_truck_total"
NEEDS_REVIEW_TOTAL = "loadcheck_needs_review_total"
REVIEW_REASONS_TOTAL = "loadcheck_review_reasons_total"
RECENT_PHOTOS = "loadcheck_recent_photos"
RECENT_PROBABILITY = "loadcheck_recent_probability"
RECENT_DETECTOR_CONFIDENCE = "loadcheck_recent_detector_confidence"
RECENT_MASK_IOU = "loadcheck_recent_mask_iou"
FEATURE_PSI = "loadcheck_feature_psi"
FEATURE_OUT_OF_RANGE = "loadcheck_feature_out_of_range_share"
#: Every metric this module publishes (the dashboards and alert rules may use only these).
METRIC_NAMES: tuple[str, ...] = (
    VERDICTS_TOTAL,
    NO_TRUCK_TOTAL,
    NEEDS_REVIEW_TOTAL,
    REVIEW_REASONS_TOTAL,
    RECENT_PHOTOS,
    RECENT_PROBABILITY,
    RECENT_DETECTOR_CONFIDENCE,
    RECENT_MASK_IOU,
    FEATURE_PSI,
    FEATURE_OUT_OF_RANGE,
)


@dataclass(frozen=True)
class ScoredPhoto:
    """What the metrics need of one answered scorer request.

    Attributes:
        verdict: the photo's verdict.
        probability: the verdict's probability; ``None`` without a loaded truck.
        has_truck: whether the detector found a bed.
        detector_confidence: mean confidence of the photo's detections (``None``: none).
        mask_iou: mean SAM predicted IoU of the photo's masks (``None``: no mask).
        features: float32 ``[F]`` the scored truck's features; ``None`` without a loaded truck.
        review_codes: the verdict's "needs review" reason codes (empty: not flagged).
    """

    verdict: Verdict
    probability: float | None
    has_truck: bool
    detector_confidence: float | None
    mask_iou: float | None
    features: np.ndarray | None
    review_codes: tuple[str, ...] = ()

    @property
    def needs_review(self) -> bool:
        return bool(self.review_codes)

    @classmethod
    def from_tensors(
        cls, feeds: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
    ) -> ScoredPhoto:
        """From the scorer's input and output tensors (names of :mod:`loadcheck.tensor_names`)."""
        raw = np.asarray(outputs[tn.SCORE_RESULT]).reshape(-1)[0]
        verdict = Verdict(raw.decode() if isinstance(raw, bytes) else str(raw))
        loaded = verdict is not Verdict.NO_MINE_DETECTED
        scores = np.asarray(feeds[tn.SCORES], np.float64).reshape(-1)
        ious = np.asarray(feeds[tn.MASK_IOU], np.float64).reshape(-1)
        classes = np.asarray(feeds[tn.CLASS_IDS]).reshape(-1)
        return cls(
            verdict=verdict,
            probability=float(np.asarray(outputs[tn.PROBABILITY]).reshape(-1)[0])
            if loaded
            else None,
            has_truck=bool(np.any(classes == BED_CLASS_ID)),
            detector_confidence=float(scores.mean()) if len(scores) else None,
            mask_iou=float(ious.mean()) if len(ious) else None,
            features=np.asarray(outputs[tn.FEATURES], np.float32).reshape(-1) if loaded else None,
            review_codes=_review_codes(outputs),
        )


def _review_codes(outputs: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """The reason codes of ``REVIEW_JSON`` (none when the output is absent)."""
    raw = outputs.get(tn.REVIEW_JSON)
    if raw is None or np.asarray(raw).size == 0:
        return ()
    value = np.asarray(raw).reshape(-1)[0]
    data = json.loads(value.decode() if isinstance(value, bytes) else str(value))
    return tuple(str(r["code"]) for r in data.get("reasons", []))


def _mean(values: deque[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


class ScorerMetrics:
    """The metrics of one ``scorer_<integrator>`` model instance (see the module docstring).

    Args:
        api: the module with ``MetricFamily`` (``triton_python_backend_utils`` in Triton).
        integrator: the label value.
        reference: the fitting data's features, or ``None`` (no drift metrics).
    """

    def __init__(self, api: Any, integrator: str, reference: DriftReference | None) -> None:
        family = api.MetricFamily
        labels = {"integrator": integrator}
        # Triton refuses a metric whose family object was garbage-collected: one family per
        # name, kept on this object for its whole life
        self._families: dict[str, Any] = {}

        def metric(name: str, kind: Any, text: str, **extra: str) -> Any:
            if name not in self._families:
                self._families[name] = family(name=name, description=text, kind=kind)
            return self._families[name].Metric(labels={**labels, **extra})

        self._verdicts = {
            v: metric(VERDICTS_TOTAL, family.COUNTER, "Answered photos by verdict", verdict=v.value)
            for v in Verdict
        }
        self._no_truck = metric(NO_TRUCK_TOTAL, family.COUNTER, "Photos with no truck bed found")
        self._needs_review = metric(
            NEEDS_REVIEW_TOTAL, family.COUNTER, 'Answered photos flagged "needs review"'
        )
        from loadcheck.scoring.review import ReviewCode

        self._reasons = {
            code.value: metric(
                REVIEW_REASONS_TOTAL, family.COUNTER, "Flagged photos by reason", reason=code.value
            )
            for code in ReviewCode
        }
        self._gauges = {
            name: metric(name, family.GAUGE, text)
            for name, text in (
                (RECENT_PHOTOS, "Photos in the recent window"),
                (RECENT_PROBABILITY, "Mean probability of the recent loaded trucks"),
                (RECENT_DETECTOR_CONFIDENCE, "Mean detector confidence of the recent photos"),
                (RECENT_MASK_IOU, "Mean SAM predicted mask IoU of the recent photos"),
            )
        }
        self.reference = reference
        self._metric = metric
        self._gauge = family.GAUGE
        # created at the first measurement: no series (rather than a misleading 0) before it
        self._psi: dict[str, Any] = {}
        self._outside: dict[str, Any] = {}
        self._probability: deque[float] = deque(maxlen=WINDOW)
        self._confidence: deque[float] = deque(maxlen=WINDOW)
        self._iou: deque[float] = deque(maxlen=WINDOW)
        self._photos = 0
        self._features: deque[np.ndarray] = deque(maxlen=WINDOW)
        self._since_drift = 0

    def observe(self, photo: ScoredPhoto) -> None:
        """Count one answered photo and update the recent gauges (and drift, when due)."""
        self._verdicts[photo.verdict].increment(1.0)
        if not photo.has_truck:
            self._no_truck.increment(1.0)
        if photo.needs_review:
            self._needs_review.increment(1.0)
        for code in photo.review_codes:
            counter = self._reasons.get(code)
            if counter is not None:  # a code this loadcheck does not know is not a label
                counter.increment(1.0)
        self._photos = min(self._photos + 1, WINDOW)
        for window, value in (
            (self._probability, photo.probability),
            (self._confidence, photo.detector_confidence),
            (self._iou, photo.mask_iou),
        ):
            if value is not None:
                window.append(value)
        self._gauges[RECENT_PHOTOS].set(float(self._photos))
        self._gauges[RECENT_PROBABILITY].set(_mean(self._probability))
        self._gauges[RECENT_DETECTOR_CONFIDENCE].set(_mean(self._confidence))
        self._gauges[RECENT_MASK_IOU].set(_mean(self._iou))
        if photo.features is not None and self.reference is not None:
            self._features.append(photo.features)
            self._since_drift += 1
            if len(self._features) >= DRIFT_MIN_SAMPLES and self._since_drift >= DRIFT_EVERY:
                self._publish_drift()

    def _publish_drift(self) -> None:
        assert self.reference is not None
        self._since_drift = 0
        report = measure_drift(self.reference, np.stack(self._features))
        if not self._psi:
            for name in self.reference.names:
                self._psi[name] = self._metric(
                    FEATURE_PSI, self._gauge, "PSI of recent features vs fitting", feature=name
                )
                self._outside[name] = self._metric(
                    FEATURE_OUT_OF_RANGE,
                    self._gauge,
                    "Share of recent features outside the fitting range",
                    feature=name,
                )
        for feature in report.features:
            self._psi[feature.name].set(feature.psi)
            self._outside[feature.name].set(feature.out_of_range_share)


def scorer_metrics(step: Any, api: Any) -> ScorerMetrics | None:
    """The metrics of a scorer step, or ``None`` for other steps or without a metrics API."""
    from loadcheck.pipeline.scorer import ScorerStep

    if not isinstance(step, ScorerStep):
        return None
    if not hasattr(api, "MetricFamily"):
        LOGGER.warning("%s: this Python backend has no metrics API; no verdict metrics", step.name)
        return None
    integrator = step.name.removeprefix(tn.SCORER_PREFIX)
    reference = None
    raw = getattr(step.model, "metadata", {}).get(REFERENCE_KEY)
    if raw is None:
        LOGGER.info("%s: score model has no fitting reference; no drift metrics", step.name)
    else:
        try:
            reference = DriftReference.from_json(raw)
        except DriftError as exc:
            LOGGER.warning("%s: %s; no drift metrics", step.name, exc)
        if reference is not None and reference.names != tuple(step.feature_names):
            LOGGER.warning("%s: fitting reference of other features; no drift metrics", step.name)
            reference = None
    try:
        return ScorerMetrics(api, integrator, reference)
    except Exception as exc:  # the metrics API refused: serve without metrics
        LOGGER.warning("%s: cannot create metrics (%s); no verdict metrics", step.name, exc)
        return None
