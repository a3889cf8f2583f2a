"""The "needs review" flag: whether a verdict's evidence is weak, and why.

The verdict itself (the three legacy strings) never changes; :func:`review_verdict` looks at the
evidence the scorer had — the detections, SAM's predicted mask IoU, the grouped trucks and the
probability — and returns a :class:`~loadcheck.payloads.ReviewFlag` with one
:class:`~loadcheck.payloads.ReviewReason` per weakness found:

=========================  ======================================================================
code                       when
=========================  ======================================================================
``low_detector_confidence`` the judged truck's bed (or its load) was detected with a confidence
                           below ``min_detector_confidence``
``low_mask_quality``       SAM's predicted IoU of the judged truck's bed (or load) mask is below
                           ``min_mask_iou``
``bed_without_load``       "No Mine Detected" although a truck bed was detected: its load was
                           missed, or the bed is empty
``load_without_bed``       a load was detected that joins no detected bed (the bed was missed, or
                           the load box lies beside the truck)
``near_threshold``         the probability is within ``probability_margin`` of the threshold
``truck_cut_by_frame``     the judged truck's bed box touches the photo's edge (within
                           ``frame_margin`` of its width / height): part of it may be out of view
``several_trucks``         more than one loaded truck in view; the verdict is about the largest
``outside_roi``            "No Mine Detected" because every detected truck lies outside the
                           camera's region of interest (:mod:`loadcheck.features.roi`; always
                           on when a region is given)
``unusual_features``       at least ``min_unusual_features`` of the judged truck's features lie
                           outside the fitting photos' range (:class:`FeatureBounds`): the photo
                           is unlike those the integrator was fitted on. Measured with the
                           shipped demo models (trained on ``classic`` scenes only), integrator
                           fitted on 300 ``classic`` scenes, 300 test scenes, the default
                           settings: on ``quarry``/``night``/``dust`` scenes 94 -> 101 of 115
                           wrong verdicts caught for 62.0 -> 65.0 % of photos flagged; on
                           ``classic`` scenes unchanged (10 of 23 caught, 16.7 % flagged)
=========================  ======================================================================

The judged truck is the one the verdict is about (the most prominent loaded truck; for "No Mine
Detected" the most prominent detected bed). Thresholds are an integrator's settings
(:class:`ReviewSettings`; ``loadcheck integrator set NAME --review KEY=VALUE``), written into each
fitted version's ``scorer.json`` (key :data:`REVIEW_KEY`); a version fitted before they existed is
reviewed with the defaults. The fitting features' per-feature bounds are written there too (key
:data:`FEATURE_BOUNDS_KEY`, plain JSON numbers); a version fitted before them skips the
``unusual_features`` check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np

from loadcheck.features.trucks import load_owners, loaded_trucks
from loadcheck.payloads import (
    LOAD_CLASS_ID,
    Detections,
    ReviewFlag,
    ReviewReason,
    TruckMasks,
    Verdict,
)
from loadcheck.scoring.settings import SettingsError

#: Key of the review settings in a fitted version's ``scorer.json``.
REVIEW_KEY = "review"
#: Key of the fitting features' bounds (:class:`FeatureBounds`) in ``scorer.json``.
FEATURE_BOUNDS_KEY = "feature_bounds"
#: :class:`FeatureBounds`: a feature's range is its fitting values' quantiles ``q`` and ``1 - q``
#: widened on each side by ``margin`` times their distance (chosen on served ``classic`` fitting
#: scenes and ``quarry``/``night``/``dust`` test scenes, ``benchmarks/review_flags.py``).
BOUNDS_QUANTILE = 0.025
BOUNDS_MARGIN = 0.25


class ReviewCode(StrEnum):
    """The stable codes of :class:`~loadcheck.payloads.ReviewReason` (see the module table)."""

    LOW_DETECTOR_CONFIDENCE = "low_detector_confidence"
    LOW_MASK_QUALITY = "low_mask_quality"
    BED_WITHOUT_LOAD = "bed_without_load"
    LOAD_WITHOUT_BED = "load_without_bed"
    NEAR_THRESHOLD = "near_threshold"
    TRUCK_CUT_BY_FRAME = "truck_cut_by_frame"
    SEVERAL_TRUCKS = "several_trucks"
    OUTSIDE_ROI = "outside_roi"
    UNUSUAL_FEATURES = "unusual_features"


class ReviewSettingsError(SettingsError):
    """A review setting is out of range or unknown; the message names it."""


@dataclass(frozen=True)
class FeatureBounds:
    """The range of each feature on the fitting photos (see :data:`BOUNDS_QUANTILE`).

    Attributes:
        names: the features' names.
        low / high: each feature's range, aligned with ``names`` (``low <= high``).
    """

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.low) == len(self.high):
            raise ReviewSettingsError(
                f"feature bounds: {len(self.names)} names need as many low and high values, "
                f"got {len(self.low)} and {len(self.high)}"
            )
        for name, lo, hi in zip(self.names, self.low, self.high, strict=True):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ReviewSettingsError(
                    f"feature bounds {name!r}: expected finite low <= high, got {lo!r}, {hi!r}"
                )

    @classmethod
    def from_samples(
        cls,
        x: np.ndarray,
        names: Sequence[str],
        quantile: float = BOUNDS_QUANTILE,
        margin: float = BOUNDS_MARGIN,
    ) -> FeatureBounds:
        """The bounds of fitting features ``x`` (finite float ``[N >= 1, len(names)]``)."""
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != len(names) or len(x) == 0:
            raise ReviewSettingsError(
                f"feature bounds: expected features [N >= 1, {len(names)}], got {x.shape}"
            )
        low = np.quantile(x, quantile, axis=0)
        high = np.quantile(x, 1.0 - quantile, axis=0)
        widen = margin * (high - low)
        return cls(
            tuple(names),
            tuple(float(v) for v in low - widen),
            tuple(float(v) for v in high + widen),
        )

    def to_json(self) -> dict[str, list[float]]:
        """``{name: [low, high]}``."""
        return {n: [lo, hi] for n, lo, hi in zip(self.names, self.low, self.high, strict=True)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FeatureBounds | None:
        """Inverse of :meth:`to_json`; ``None`` (a version fitted before the bounds) stays
        ``None``."""
        if data is None:
            return None
        if not isinstance(data, Mapping) or not all(
            isinstance(v, Sequence) and len(v) == 2 for v in data.values()
        ):
            raise ReviewSettingsError(
                f"feature bounds: expected {{name: [low, high]}}, got {data!r}"
            )
        try:
            low = tuple(float(v[0]) for v in data.values())
            high = tuple(float(v[1]) for v in data.values())
        except (TypeError, ValueError):
            raise ReviewSettingsError(f"feature bounds: expected numbers, got {data!r}") from None
        return cls(tuple(str(n) for n in data), low, high)

    @classmethod
    def of_metadata(cls, metadata: Mapping[str, Any] | None) -> FeatureBounds | None:
        """The bounds in a score model's ``scorer.json`` metadata (``None``: none there)."""
        return cls.from_json((metadata or {}).get(FEATURE_BOUNDS_KEY))

    @cached_property
    def _ranges(self) -> dict[str, tuple[float, float]]:
        """name -> (low, high), built once per bounds (the served scorer checks every photo)."""
        return {n: (lo, hi) for n, lo, hi in zip(self.names, self.low, self.high, strict=True)}

    def outside(
        self, names: Sequence[str], values: Sequence[float] | np.ndarray
    ) -> tuple[str, ...]:
        """The names of the features whose value lies outside its range (features the bounds
        do not name, and non-finite values, are skipped)."""
        ranges = self._ranges
        out = []
        for name, value in zip(names, values, strict=True):
            bound = ranges.get(name)
            v = float(value)
            if bound is not None and math.isfinite(v) and not bound[0] <= v <= bound[1]:
                out.append(name)
        return tuple(out)


@dataclass(frozen=True)
class ReviewSettings:
    """When a verdict is flagged "needs review" (each check is off at 0 / ``False``).

    The defaults were chosen on the project's fitting scenes (seed 1, out-of-fold verdicts of the
    demo models, ``benchmarks/review_flags.py``): the most wrong verdicts caught with at most a
    quarter of the photos flagged, keeping the bed, load and confidence checks on; the frame and
    several-trucks checks caught no more wrong verdicts there and are off by default.

    Attributes:
        min_detector_confidence: the judged bed's and load's detector confidence must reach
            this (in [0, 1]).
        min_mask_iou: SAM's predicted IoU of the judged bed and load masks must reach this.
        probability_margin: a probability closer than this to the threshold is flagged.
        frame_margin: a bed box within this share of the photo's width / height from an edge
            is cut by the frame (in [0, 0.5)).
        bed_without_load: flag "No Mine Detected" when a bed was detected.
        load_without_bed: flag a load that joins no bed.
        several_trucks: flag more than one loaded truck in view.
        min_unusual_features: flag when at least this many of the judged truck's features lie
            outside the fitting photos' range (an integer in [0, 64]; 0: off). On by default (3):
            on the fitting scenes' own style it flagged no more photos of the held-out scenes,
            on other styles it caught more wrong verdicts (module docstring).
    """

    min_detector_confidence: float = 0.3
    min_mask_iou: float = 0.75
    probability_margin: float = 0.2
    frame_margin: float = 0.0
    bed_without_load: bool = True
    load_without_bed: bool = True
    several_trucks: bool = False
    min_unusual_features: int = 3

    def __post_init__(self) -> None:
        for name, high in (
            ("min_detector_confidence", 1.0),
            ("min_mask_iou", 1.0),
            ("probability_margin", 1.0),
            ("frame_margin", 0.499),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ReviewSettingsError(f"review {name}: expected a number, got {value!r}")
            if not math.isfinite(value) or not 0.0 <= value <= high:
                raise ReviewSettingsError(
                    f"review {name}: expected a number in [0, {high:g}], got {value!r}"
                )
            object.__setattr__(self, name, float(value))
        for name in ("bed_without_load", "load_without_bed", "several_trucks"):
            if not isinstance(getattr(self, name), bool):
                raise ReviewSettingsError(
                    f"review {name}: expected true or false, got {getattr(self, name)!r}"
                )
        count = self.min_unusual_features
        whole = isinstance(count, int | float) and not isinstance(count, bool)
        if not whole or not math.isfinite(count) or count != int(count) or not 0 <= count <= 64:
            raise ReviewSettingsError(
                f"review min_unusual_features: expected an integer in [0, 64], got {count!r}"
            )
        object.__setattr__(self, "min_unusual_features", int(count))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def changed(self) -> dict[str, Any]:
        """Only the settings that differ from the defaults."""
        default = ReviewSettings().to_json()
        return {k: v for k, v in self.to_json().items() if default[k] != v}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReviewSettings:
        """The settings of a ``scorer.json``'s ``review`` block; missing keys (or a missing
        block: ``None``) take the defaults, unknown keys are refused."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ReviewSettingsError(f"review settings: expected an object, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ReviewSettingsError(
                f"review settings: unknown keys {unknown}; known: {sorted(known)}"
            )
        return cls(**dict(data))


DEFAULT_REVIEW = ReviewSettings()


def parse_review_assignment(item: str) -> tuple[str, float | bool | int]:
    """``"min_mask_iou=0.7"`` -> ``("min_mask_iou", 0.7)``; ``"several_trucks=false"`` ->
    ``("several_trucks", False)`` (checked against :class:`ReviewSettings`'s fields and ranges)."""
    key, eq, text = item.partition("=")
    key, text = key.strip(), text.strip()
    kinds = {f.name: f.type for f in fields(ReviewSettings)}
    if not eq or key not in kinds:
        raise ReviewSettingsError(
            f"--review {item!r}: expected KEY=VALUE with KEY one of {sorted(kinds)}"
        )
    value: float | bool | int
    if kinds[key] in (bool, "bool"):
        low = text.lower()
        if low not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise ReviewSettingsError(f"--review {item!r}: expected true or false")
        value = low in ("true", "yes", "on", "1")
    elif kinds[key] in (int, "int"):
        try:
            value = int(text)
        except ValueError:
            raise ReviewSettingsError(f"--review {item!r}: expected an integer") from None
    else:
        try:
            value = float(text)
        except ValueError:
            raise ReviewSettingsError(f"--review {item!r}: expected a number") from None
    ReviewSettings.from_json({key: value})  # the range check names the setting
    return key, value


@dataclass(frozen=True)
class ReviewEvidence:
    """What the review looks at, as numbers (so that thresholds can be tried on stored evidence).

    Attributes:
        verdict / probability / threshold: the photo's answer.
        trucks: detected beds; loaded: those that carry load.
        bed_confidence / bed_mask_iou: the judged truck's bed (``None``: no bed detected).
        load_confidence / load_mask_iou: the judged truck's load (``None``: not loaded).
        stray_loads: load detections that join no bed.
        edge_margin: the judged bed box's smallest distance to the photo's edge, as a share of
            the photo's width (left/right) or height (top/bottom); ``None``: no bed.
        unusual_features: the judged loaded truck's features outside the fitting photos'
            range (:meth:`FeatureBounds.outside`; empty without bounds or a loaded truck).
    """

    verdict: Verdict
    probability: float
    threshold: float
    trucks: int
    loaded: int
    bed_confidence: float | None
    bed_mask_iou: float | None
    load_confidence: float | None
    load_mask_iou: float | None
    stray_loads: int
    edge_margin: float | None
    unusual_features: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        verdict: Verdict,
        probability: float,
        threshold: float,
        trucks: Sequence[TruckMasks],
        detections: Detections,
        image_wh: tuple[int, int],
        unusual_features: Sequence[str] = (),
    ) -> ReviewEvidence:
        """The evidence of one photo: its answer, its trucks (most prominent first, as
        :func:`~loadcheck.features.trucks.group_trucks` returns them), every kept detection,
        its size in pixels and the judged truck's features outside the fitting range."""
        loaded = loaded_trucks(list(trucks))
        judged = loaded[0] if loaded else (trucks[0] if trucks else None)
        loads = int(np.count_nonzero(detections.class_id == LOAD_CLASS_ID))
        stray = int(np.count_nonzero(load_owners(detections) < 0)) if loads else 0
        edge = None
        if judged is not None:
            w, h = image_wh
            x1, y1, x2, y2 = judged.bed_xyxy
            edge = max(0.0, min(x1 / w, (w - x2) / w, y1 / h, (h - y2) / h))
        return cls(
            verdict=Verdict(verdict),
            probability=float(probability),
            threshold=float(threshold),
            trucks=len(trucks),
            loaded=len(loaded),
            bed_confidence=None if judged is None else judged.bed_confidence,
            bed_mask_iou=None if judged is None else judged.bed_mask_iou,
            load_confidence=judged.load_confidence if loaded and judged else None,
            load_mask_iou=judged.load_mask_iou if loaded and judged else None,
            stray_loads=stray,
            edge_margin=edge,
            unusual_features=tuple(unusual_features),
        )


def _low(parts: Sequence[tuple[str, float | None]], minimum: float) -> str:
    return ", ".join(f"{n} {v:.2f}" for n, v in parts if v is not None and v < minimum)


def judge_evidence(
    evidence: ReviewEvidence, settings: ReviewSettings = DEFAULT_REVIEW
) -> ReviewFlag:
    """The review flag of ``evidence`` under ``settings`` (see the module docstring)."""
    e, s = evidence, settings
    reasons: list[ReviewReason] = []
    low = _low([("bed", e.bed_confidence), ("load", e.load_confidence)], s.min_detector_confidence)
    if low:
        reasons.append(
            ReviewReason(
                ReviewCode.LOW_DETECTOR_CONFIDENCE,
                f"the detector is unsure of the truck ({low}; "
                f"expected >= {s.min_detector_confidence:.2f})",
            )
        )
    low = _low([("bed", e.bed_mask_iou), ("load", e.load_mask_iou)], s.min_mask_iou)
    if low:
        reasons.append(
            ReviewReason(
                ReviewCode.LOW_MASK_QUALITY,
                f"the segmentation of the truck may be poor (predicted IoU {low}; "
                f"expected >= {s.min_mask_iou:.2f})",
            )
        )
    if s.bed_without_load and e.verdict is Verdict.NO_MINE_DETECTED and e.trucks:
        reasons.append(
            ReviewReason(
                ReviewCode.BED_WITHOUT_LOAD,
                f"a truck bed was found ({e.trucks} in view) but no load on it: the load may "
                "have been missed",
            )
        )
    if s.load_without_bed and e.stray_loads:
        reasons.append(
            ReviewReason(
                ReviewCode.LOAD_WITHOUT_BED,
                f"{e.stray_loads} load region(s) found on no truck bed: a truck may have been "
                "missed",
            )
        )
    margin = abs(e.probability - e.threshold)
    if e.loaded and s.probability_margin > 0 and margin < s.probability_margin:
        reasons.append(
            ReviewReason(
                ReviewCode.NEAR_THRESHOLD,
                f"the probability {e.probability:.2f} is close to the threshold {e.threshold:.2f}",
            )
        )
    if e.edge_margin is not None and s.frame_margin > 0 and e.edge_margin <= s.frame_margin:
        reasons.append(
            ReviewReason(
                ReviewCode.TRUCK_CUT_BY_FRAME,
                "the truck bed touches the photo's edge: part of it may be out of view",
            )
        )
    if s.several_trucks and e.loaded > 1:
        reasons.append(
            ReviewReason(
                ReviewCode.SEVERAL_TRUCKS,
                f"{e.loaded} loaded trucks in view; the verdict is about the largest",
            )
        )
    unusual = e.unusual_features
    if s.min_unusual_features and len(unusual) >= s.min_unusual_features:
        reasons.append(
            ReviewReason(
                ReviewCode.UNUSUAL_FEATURES,
                f"{len(unusual)} features lie outside the range of the fitting photos "
                f"({', '.join(unusual)}): the photo is unlike those the integrator was fitted on",
            )
        )
    return ReviewFlag(tuple(reasons))


def review_verdict(
    verdict: Verdict,
    probability: float,
    threshold: float,
    trucks: Sequence[TruckMasks],
    detections: Detections,
    image_wh: tuple[int, int],
    settings: ReviewSettings = DEFAULT_REVIEW,
    unusual_features: Sequence[str] = (),
) -> ReviewFlag:
    """The review flag of one photo's verdict (see the module docstring).

    Args:
        verdict / probability / threshold: the photo's answer.
        trucks: the photo's trucks, most prominent first (:func:`~loadcheck.features.trucks.
            group_trucks`).
        detections: every kept detection (for loads that join no bed).
        image_wh: the photo's width and height in pixels.
        settings: the integrator's review thresholds.
        unusual_features: the judged truck's features outside the fitting photos' range
            (:meth:`FeatureBounds.outside`).
    """
    evidence = ReviewEvidence.of(
        verdict, probability, threshold, trucks, detections, image_wh, unusual_features
    )
    return judge_evidence(evidence, settings)
