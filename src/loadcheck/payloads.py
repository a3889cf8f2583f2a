"""Typed payloads shared by every part of loadcheck.

Results travel between the synthetic scenes, the feature extractor, the scorer, the Triton models,
the client and the console as these validated dataclasses, never as loose dicts. Every constructor
checks shapes and dtypes in ``__post_init__`` and raises :class:`PayloadError` with a message that
names the field, what it got and what is expected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt


class PayloadError(ValueError):
    """A payload does not have the shape, dtype or value its type promises."""


class Verdict(StrEnum):
    """The three answers of the public contract of the replaced system (exact strings)."""

    QUALIFIED = "Qualified"
    UNQUALIFIED = "Unqualified"
    NO_MINE_DETECTED = "No Mine Detected"


VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)


class LoadClass(StrEnum):
    """Detector classes loadcheck reasons about, in the order of their class ids."""

    BED = "bed"  # the truck body / carriage
    LOAD = "load"  # the mineral in it


CLASS_NAMES: tuple[str, ...] = tuple(c.value for c in LoadClass)
BED_CLASS_ID = 0
LOAD_CLASS_ID = 1


def _as_array(name: str, value: Any, dtype: npt.DTypeLike) -> np.ndarray:
    try:
        return np.ascontiguousarray(np.asarray(value, dtype=dtype))
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{name}: cannot convert to {np.dtype(dtype)}: {exc}") from exc


@dataclass(frozen=True)
class Detections:
    """Boxes found in one image.

    Attributes:
        xyxy: float32 ``[N, 4]`` boxes as (x1, y1, x2, y2) in pixels of the original image.
        confidence: float32 ``[N]`` detector scores in [0, 1].
        class_id: int32 ``[N]`` class ids (see :data:`CLASS_NAMES`).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        xyxy = _as_array("xyxy", self.xyxy, np.float32)
        if xyxy.size == 0:
            xyxy = np.zeros((0, 4), np.float32)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise PayloadError(f"xyxy: expected shape [N, 4], got {xyxy.shape}")
        confidence = _as_array("confidence", self.confidence, np.float32).reshape(-1)
        class_id = _as_array("class_id", self.class_id, np.int32).reshape(-1)
        n = len(xyxy)
        if len(confidence) != n or len(class_id) != n:
            raise PayloadError(
                f"detections: xyxy has {n} boxes but confidence has {len(confidence)} and "
                f"class_id has {len(class_id)}; expected the same N for all three"
            )
        if n and not np.all(np.isfinite(xyxy)):
            raise PayloadError("xyxy: boxes must be finite")
        if n and np.any(xyxy[:, 2:] < xyxy[:, :2]):
            raise PayloadError("xyxy: expected x2 >= x1 and y2 >= y1 for every box")
        if n and (np.any(confidence < 0) or np.any(confidence > 1)):
            raise PayloadError("confidence: expected values in [0, 1]")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def of_class(self, class_id: int) -> Detections:
        keep = self.class_id == class_id
        return Detections(self.xyxy[keep], self.confidence[keep], self.class_id[keep])

    @property
    def area(self) -> np.ndarray:
        """float32 ``[N]`` box areas in square pixels."""
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return (wh[:, 0] * wh[:, 1]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "xyxy": self.xyxy.round(2).tolist(),
            "confidence": self.confidence.round(4).tolist(),
            "class_id": self.class_id.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Detections:
        return cls(
            np.asarray(data.get("xyxy", []), np.float32).reshape(-1, 4),
            np.asarray(data.get("confidence", []), np.float32),
            np.asarray(data.get("class_id", []), np.int32),
        )


@dataclass(frozen=True)
class SegmentationMasks:
    """Binary masks, one per prompt box, with SAM's predicted IoU.

    Attributes:
        mask_hw: bool ``[K, H, W]`` masks at the original image resolution.
        iou_prediction: float32 ``[K]`` the mask decoder's own quality estimate.
    """

    mask_hw: np.ndarray
    iou_prediction: np.ndarray

    def __post_init__(self) -> None:
        masks = np.asarray(self.mask_hw)
        if masks.ndim != 3:
            raise PayloadError(f"mask_hw: expected shape [K, H, W], got {masks.shape}")
        if masks.dtype != np.bool_:
            if masks.dtype.kind not in "biu":
                raise PayloadError(f"mask_hw: expected a bool or integer array, got {masks.dtype}")
            masks = masks > 0
        iou = _as_array("iou_prediction", self.iou_prediction, np.float32).reshape(-1)
        if len(iou) != len(masks):
            raise PayloadError(
                f"iou_prediction: expected {len(masks)} values (one per mask), got {len(iou)}"
            )
        object.__setattr__(self, "mask_hw", np.ascontiguousarray(masks))
        object.__setattr__(self, "iou_prediction", iou)

    @classmethod
    def empty(cls, resolution_wh: tuple[int, int]) -> SegmentationMasks:
        w, h = resolution_wh
        return cls(np.zeros((0, h, w), bool), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.mask_hw)

    @property
    def resolution_wh(self) -> tuple[int, int]:
        return int(self.mask_hw.shape[2]), int(self.mask_hw.shape[1])


@dataclass(frozen=True)
class TruckMasks:
    """The bed and load masks of one truck, the input of the feature extractor.

    Attributes:
        bed_mask: bool ``[H, W]`` the truck bed (carriage) at the original image resolution.
        load_mask: bool ``[H, W]`` the mineral load of this truck (all False when empty).
        bed_xyxy: the bed box in pixels.
        load_xyxy: the load box in pixels, or ``None`` when no load was detected.
        bed_confidence / load_confidence: detector scores in [0, 1] (1.0 for given masks).
        bed_mask_iou / load_mask_iou: SAM's predicted IoU in [0, 1] (1.0 for given masks).
    """

    bed_mask: np.ndarray
    load_mask: np.ndarray
    bed_xyxy: tuple[float, float, float, float]
    load_xyxy: tuple[float, float, float, float] | None = None
    bed_confidence: float = 1.0
    load_confidence: float = 1.0
    bed_mask_iou: float = 1.0
    load_mask_iou: float = 1.0

    def __post_init__(self) -> None:
        bed = np.asarray(self.bed_mask)
        load = np.asarray(self.load_mask)
        if bed.ndim != 2:
            raise PayloadError(f"bed_mask: expected shape [H, W], got {bed.shape}")
        if load.shape != bed.shape:
            raise PayloadError(
                f"load_mask: expected the bed mask's shape {bed.shape}, got {load.shape}"
            )
        object.__setattr__(self, "bed_mask", bed.astype(bool, copy=False))
        object.__setattr__(self, "load_mask", load.astype(bool, copy=False))
        if len(tuple(self.bed_xyxy)) != 4:
            raise PayloadError(f"bed_xyxy: expected 4 numbers, got {self.bed_xyxy!r}")
        object.__setattr__(self, "bed_xyxy", tuple(float(v) for v in self.bed_xyxy))
        if self.load_xyxy is not None:
            if len(tuple(self.load_xyxy)) != 4:
                raise PayloadError(f"load_xyxy: expected 4 numbers, got {self.load_xyxy!r}")
            object.__setattr__(self, "load_xyxy", tuple(float(v) for v in self.load_xyxy))
        for name in ("bed_confidence", "load_confidence", "bed_mask_iou", "load_mask_iou"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise PayloadError(f"{name}: expected a finite number, got {value}")
            object.__setattr__(self, name, min(max(value, 0.0), 1.0))

    @property
    def resolution_wh(self) -> tuple[int, int]:
        return int(self.bed_mask.shape[1]), int(self.bed_mask.shape[0])


@dataclass(frozen=True)
class LoadFeatures:
    """A named load-geometry feature vector and the spec version that produced it.

    Attributes:
        names: feature names, in spec order.
        values: float32 ``[F]`` values, aligned with ``names``.
        spec_version: the feature-spec version (a scorer refuses vectors of another version).
    """

    names: tuple[str, ...]
    values: np.ndarray
    spec_version: str

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        values = _as_array("values", self.values, np.float32).reshape(-1)
        if len(values) != len(names):
            raise PayloadError(
                f"load features: {len(names)} names but {len(values)} values; expected one value "
                "per name"
            )
        if len(set(names)) != len(names):
            raise PayloadError("load features: feature names must be unique")
        if not np.all(np.isfinite(values)):
            bad = [n for n, v in zip(names, values, strict=True) if not math.isfinite(float(v))]
            raise PayloadError(f"load features: non-finite values for {bad}")
        if not self.spec_version:
            raise PayloadError("load features: spec_version must be a non-empty string")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)

    def __getitem__(self, name: str) -> float:
        try:
            return float(self.values[self.names.index(name)])
        except ValueError:
            raise KeyError(f"no feature {name!r}; known: {', '.join(self.names)}") from None

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.values, strict=True)}


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent per pipeline stage (names such as ``preprocess``, ``sam_encoder``)."""

    stages_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean: dict[str, float] = {}
        for name, ms in dict(self.stages_ms).items():
            value = float(ms)
            if not math.isfinite(value) or value < 0:
                raise PayloadError(f"timings: stage {name!r} has invalid duration {ms!r} ms")
            clean[str(name)] = value
        object.__setattr__(self, "stages_ms", clean)

    @property
    def total_ms(self) -> float:
        return float(sum(self.stages_ms.values()))


@dataclass(frozen=True)
class TruckResult:
    """The verdict for one loaded truck when several are in view."""

    bed_xyxy: tuple[float, float, float, float]
    score_result: Verdict
    probability: float


_REVIEW_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ReviewReason:
    """Why a verdict's evidence is weak: a short stable ``code`` (``low_mask_quality``...) and
    a plain-language ``message`` for an operator (codes: :mod:`loadcheck.scoring.review`)."""

    code: str
    message: str

    def __post_init__(self) -> None:
        if not _REVIEW_CODE.match(str(self.code)):
            raise PayloadError(
                f"review reason code: expected lowercase letters, digits and '_', got {self.code!r}"
            )
        object.__setattr__(self, "code", str(self.code))
        object.__setattr__(self, "message", str(self.message))

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ReviewFlag:
    """Whether a verdict should be looked at by a person, and why.

    The three legacy strings never change; this travels beside them. ``needs_review`` is true
    exactly when there is a reason. The default (no reason) is what a server that predates the
    flag is decoded as.
    """

    reasons: tuple[ReviewReason, ...] = ()

    def __post_init__(self) -> None:
        reasons = tuple(self.reasons)
        if not all(isinstance(r, ReviewReason) for r in reasons):
            raise PayloadError("review reasons: expected ReviewReason items")
        object.__setattr__(self, "reasons", reasons)

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """``{"needs_review": bool, "reasons": [{"code", "message"}, ...]}``."""
        return {"needs_review": self.needs_review, "reasons": [r.to_dict() for r in self.reasons]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewFlag:
        """Inverse of :meth:`to_dict`; :class:`PayloadError` when it does not fit."""
        try:
            reasons = tuple(
                ReviewReason(str(r["code"]), str(r.get("message", "")))
                for r in data.get("reasons", [])
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise PayloadError(f"review: expected reasons as [{{code, message}}]: {exc}") from exc
        flag = cls(reasons)
        if "needs_review" in data and bool(data["needs_review"]) != flag.needs_review:
            raise PayloadError(
                f"review: needs_review is {data['needs_review']!r} but {len(reasons)} reasons"
            )
        return flag


NOT_FLAGGED = ReviewFlag()


@dataclass(frozen=True)
class ServedProvenance:
    """What answered a verdict, as the serving scorer reports it.

    Attributes:
        integrator: the integrator's name.
        scorer_version: the scorer's version folder that Triton loaded (``None``: unknown).
        repository_build: the model repository build's id (its manifest's ``build.id``;
            ``None`` for a repository built before builds had ids).
        networks: lowercase hex SHA-256 of each network's model card, by network name
            (``detector``, ``sam_encoder``, ``sam_decoder``); empty when unknown.
    """

    integrator: str
    scorer_version: int | None = None
    repository_build: str | None = None
    networks: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scorer_version is not None:
            version = int(self.scorer_version)
            if version < 1:
                raise PayloadError(f"scorer_version: expected >= 1, got {self.scorer_version}")
            object.__setattr__(self, "scorer_version", version)
        networks = {str(k): str(v) for k, v in dict(self.networks).items()}
        bad = sorted(k for k, v in networks.items() if not _HEX_SHA256.match(v))
        if bad:
            raise PayloadError(f"networks: expected a lowercase hex SHA-256 for {bad}")
        object.__setattr__(self, "networks", networks)
        object.__setattr__(self, "repository_build", self.repository_build or None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "integrator": self.integrator,
            "scorer_version": self.scorer_version,
            "repository_build": self.repository_build,
            "networks": dict(sorted(self.networks.items())),
        }

    def to_record(self, *, recorded_by: str, source: str | None = None) -> Any:
        """This provenance as an inspection record's
        :class:`loadcheck.records.model.Provenance` (the integrator is the record's own field).

        Args:
            recorded_by: who writes the record (``inspect``, ``gateway``).
            source: where the photo came from, if known.
        """
        from loadcheck.records.model import Provenance

        return Provenance(
            scorer_version=self.scorer_version,
            repository_build=self.repository_build,
            networks=dict(self.networks),
            recorded_by=recorded_by,
            source=source,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServedProvenance:
        """Inverse of :meth:`to_dict`; :class:`PayloadError` when it does not fit."""
        try:
            version = data.get("scorer_version")
            return cls(
                integrator=str(data["integrator"]),
                scorer_version=None if version is None else int(version),
                repository_build=None
                if data.get("repository_build") is None
                else str(data["repository_build"]),
                networks=dict(data.get("networks") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, PayloadError):
                raise
            raise PayloadError(f"provenance: malformed ({exc!r})") from exc


@dataclass(frozen=True)
class InspectionResult:
    """The answer for one photo.

    Attributes:
        score_result: one of :data:`VERDICTS` (exact strings of the public contract).
        probability: the scorer's probability of "Qualified" in [0, 1] (0 when no mine detected).
        threshold: the integrator's decision threshold in [0, 1].
        features: the feature vector of the most prominent truck, or ``None`` when none.
        detections: every kept detection in original-image pixels.
        timings: per-stage timings.
        masks: masks, only when asked for.
        trucks: per-truck results, most prominent (largest bed) first.
        review: whether the evidence is weak and why (default: not flagged, as a server that
            predates the flag is decoded).
        provenance: what answered (integrator, scorer version, repository build, network
            cards); ``None`` from a server that predates it.
    """

    score_result: Verdict
    probability: float
    threshold: float
    features: LoadFeatures | None = None
    detections: Detections = field(default_factory=Detections.empty)
    timings: StageTimings = field(default_factory=StageTimings)
    masks: SegmentationMasks | None = None
    trucks: tuple[TruckResult, ...] = ()
    review: ReviewFlag = NOT_FLAGGED
    provenance: ServedProvenance | None = None

    def __post_init__(self) -> None:
        try:
            verdict = Verdict(self.score_result)
        except ValueError:
            raise PayloadError(
                f"score_result: got {self.score_result!r}, expected one of {list(VERDICTS)}"
            ) from None
        object.__setattr__(self, "score_result", verdict)
        for name in ("probability", "threshold"):
            value = float(getattr(self, name))
            if not (0.0 <= value <= 1.0):
                raise PayloadError(f"{name}: expected a value in [0, 1], got {value}")
            object.__setattr__(self, name, value)

    def to_dict(self, *, detail: bool = True) -> dict[str, Any]:
        """JSON-ready dict; ``detail=False`` gives the legacy ``{"score_result": ...}`` only."""
        out: dict[str, Any] = {"score_result": self.score_result.value}
        if not detail:
            return out
        out["probability"] = round(self.probability, 6)
        out["threshold"] = round(self.threshold, 6)
        out["features"] = self.features.as_dict() if self.features is not None else None
        out["feature_spec_version"] = self.features.spec_version if self.features else None
        out["detections"] = self.detections.to_dict()
        out["timings_ms"] = {k: round(v, 3) for k, v in self.timings.stages_ms.items()}
        out["trucks"] = [
            {
                "bed_xyxy": [round(float(c), 2) for c in t.bed_xyxy],
                "score_result": t.score_result.value,
                "probability": round(t.probability, 6),
            }
            for t in self.trucks
        ]
        out["needs_review"] = self.review.needs_review
        out["review_reasons"] = [r.to_dict() for r in self.review.reasons]
        out["provenance"] = self.provenance.to_dict() if self.provenance is not None else None
        return out


def verdict_from_probability(probability: float, threshold: float) -> Verdict:
    """Qualified when ``probability >= threshold``; both in [0, 1]."""
    return Verdict.QUALIFIED if probability >= threshold else Verdict.UNQUALIFIED


def ensure_names(names: Sequence[str], expected: Sequence[str], what: str) -> None:
    """Raise a :class:`PayloadError` when ``names`` differ from ``expected`` (order matters)."""
    if tuple(names) != tuple(expected):
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        raise PayloadError(
            f"{what}: feature names differ from the expected spec "
            f"(missing {missing}, unexpected {extra}, or another order)"
        )
