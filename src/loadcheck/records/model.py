"""The typed payloads of the inspection records: a record, its provenance, a query and a page.

A record is what a site needs the morning after a disputed verdict: when, which camera and
integrator, which scorer version and networks judged it, the verdict with its probability and
threshold, the features and per-truck results, and the photo (by its SHA-256; the bytes are kept
in the store for the photo retention period, up to the size cap).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loadcheck.payloads import VERDICTS, InspectionResult, PayloadError, Verdict

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Largest page :meth:`RecordStore.query` returns.
MAX_PAGE_SIZE = 1000


class RecordError(PayloadError):
    """A record, query or setting does not hold what its type promises."""


def utc(moment: datetime, what: str) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is refused (its zone is unknown)."""
    if moment.tzinfo is None:
        raise RecordError(
            f"{what}: expected a timezone-aware datetime (e.g. datetime.now(UTC)), got naive "
            f"{moment.isoformat()}"
        )
    return moment.astimezone(UTC)


def _unit_interval(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise RecordError(f"{name}: expected a value in [0, 1], got {value}")
    return value


@dataclass(frozen=True)
class Provenance:
    """What judged a verdict, as far as the caller knows it.

    Attributes:
        scorer_version: the integrator's scorer version that answered (``None``: unknown).
        repository_build: an identifier of the model repository's build (``None``: unknown).
        networks: model-card SHA-256 by network name (``detector``, ``sam_encoder``, ...).
        recorded_by: who wrote the record (``inspect``, ``gateway``).
        source: where the photo came from (a file name or zip member; ``None``: not given).
    """

    scorer_version: int | None = None
    repository_build: str | None = None
    networks: Mapping[str, str] = field(default_factory=dict)
    recorded_by: str = "unknown"
    source: str | None = None

    def __post_init__(self) -> None:
        if self.scorer_version is not None and int(self.scorer_version) < 1:
            raise RecordError(f"scorer_version: expected >= 1, got {self.scorer_version}")
        networks = {str(k): str(v) for k, v in dict(self.networks).items()}
        bad = [k for k, v in networks.items() if not _SHA256.match(v)]
        if bad:
            raise RecordError(
                f"networks: expected a lowercase hex SHA-256 per network, got another value for "
                f"{bad}"
            )
        if not self.recorded_by.strip():
            raise RecordError("recorded_by: expected a non-empty name (inspect, gateway, ...)")
        object.__setattr__(self, "networks", networks)


@dataclass(frozen=True)
class TruckRecord:
    """One truck's verdict in a record (most prominent truck first)."""

    bed_xyxy: tuple[float, float, float, float]
    verdict: Verdict
    probability: float

    def __post_init__(self) -> None:
        box = tuple(float(c) for c in self.bed_xyxy)
        if len(box) != 4 or not all(math.isfinite(c) for c in box):
            raise RecordError(f"bed_xyxy: expected 4 finite numbers, got {self.bed_xyxy!r}")
        object.__setattr__(self, "bed_xyxy", box)
        object.__setattr__(self, "verdict", _verdict(self.verdict))
        object.__setattr__(self, "probability", _unit_interval("probability", self.probability))

    def to_json(self) -> dict[str, Any]:
        return {
            "bed_xyxy": list(self.bed_xyxy),
            "verdict": self.verdict.value,
            "probability": self.probability,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TruckRecord:
        return cls(tuple(data["bed_xyxy"]), Verdict(data["verdict"]), data["probability"])


def _verdict(value: Any) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        raise RecordError(f"verdict: got {value!r}, expected one of {list(VERDICTS)}") from None


@dataclass(frozen=True)
class InspectionRecord:
    """One verdict as stored.

    Attributes:
        at: when the verdict was given (aware; stored in UTC).
        integrator: the integrator that judged it.
        verdict / probability / threshold: the answer (probability of "Qualified", in [0, 1]).
        camera: the camera's name (``None`` until cameras exist).
        needs_review: the weak-evidence flag where the caller has it (``None``: not given).
        feature_spec_version / features: the most prominent truck's features, or ``None``.
        trucks: per-truck results, most prominent first.
        photo_sha256: SHA-256 of the photo's bytes (``None``: no photo given).
        photo_stored: whether the store holds the photo's bytes (false past the size cap or
            after the photo retention period).
        provenance: what judged it.
        record_id: the store's id (``None`` before it is stored).
    """

    at: datetime
    integrator: str
    verdict: Verdict
    probability: float
    threshold: float
    camera: str | None = None
    needs_review: bool | None = None
    feature_spec_version: str | None = None
    features: Mapping[str, float] | None = None
    trucks: tuple[TruckRecord, ...] = ()
    photo_sha256: str | None = None
    photo_stored: bool = False
    provenance: Provenance = field(default_factory=Provenance)
    record_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at, "at"))
        if not self.integrator.strip():
            raise RecordError("integrator: expected a non-empty name")
        if self.camera is not None and not self.camera.strip():
            raise RecordError("camera: expected a non-empty name or None")
        object.__setattr__(self, "verdict", _verdict(self.verdict))
        object.__setattr__(self, "probability", _unit_interval("probability", self.probability))
        object.__setattr__(self, "threshold", _unit_interval("threshold", self.threshold))
        if self.features is not None:
            clean = {str(k): float(v) for k, v in dict(self.features).items()}
            bad = [k for k, v in clean.items() if not math.isfinite(v)]
            if bad:
                raise RecordError(f"features: non-finite values for {bad}")
            if not self.feature_spec_version:
                raise RecordError("feature_spec_version: required when features are given")
            object.__setattr__(self, "features", clean)
        object.__setattr__(self, "trucks", tuple(self.trucks))
        if self.photo_sha256 is not None and not _SHA256.match(self.photo_sha256):
            raise RecordError(
                f"photo_sha256: expected 64 lowercase hex digits, got {self.photo_sha256!r}"
            )
        if self.photo_stored and self.photo_sha256 is None:
            raise RecordError("photo_stored: a record without photo_sha256 stores no photo")

    @classmethod
    def from_result(
        cls,
        result: InspectionResult,
        *,
        integrator: str,
        at: datetime | None = None,
        camera: str | None = None,
        photo_sha256: str | None = None,
        needs_review: bool | None = None,
        provenance: Provenance | None = None,
    ) -> InspectionRecord:
        """The record of an :class:`~loadcheck.payloads.InspectionResult` (``at``: now)."""
        features = result.features
        return cls(
            at=at or datetime.now(UTC),
            integrator=integrator,
            verdict=result.score_result,
            probability=result.probability,
            threshold=result.threshold,
            camera=camera,
            needs_review=needs_review,
            feature_spec_version=features.spec_version if features is not None else None,
            features=features.as_dict() if features is not None else None,
            trucks=tuple(
                TruckRecord(t.bed_xyxy, t.score_result, t.probability) for t in result.trucks
            ),
            photo_sha256=photo_sha256,
            provenance=provenance or Provenance(),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``loadcheck records list --format json``)."""
        p = self.provenance
        return {
            "id": self.record_id,
            "at": self.at.isoformat(),
            "camera": self.camera,
            "integrator": self.integrator,
            "verdict": self.verdict.value,
            "probability": self.probability,
            "threshold": self.threshold,
            "needs_review": self.needs_review,
            "feature_spec_version": self.feature_spec_version,
            "features": dict(self.features) if self.features is not None else None,
            "trucks": [t.to_json() for t in self.trucks],
            "photo_sha256": self.photo_sha256,
            "photo_stored": self.photo_stored,
            "provenance": {
                "scorer_version": p.scorer_version,
                "repository_build": p.repository_build,
                "networks": dict(p.networks),
                "recorded_by": p.recorded_by,
                "source": p.source,
            },
        }


@dataclass(frozen=True)
class RecordQuery:
    """Filters and paging of :meth:`RecordStore.query`; every filter is optional.

    Attributes:
        integrator / camera / verdict: exact matches.
        since / until: ``since <= at < until`` (aware datetimes).
        min_probability / max_probability: ``min <= probability <= max`` (a band in [0, 1]).
        limit: records per page, 1 to :data:`MAX_PAGE_SIZE`.
        after: the cursor of the previous page (:attr:`RecordPage.next_cursor`).
    Records come newest first (by ``at``, then id).
    """

    integrator: str | None = None
    camera: str | None = None
    verdict: Verdict | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    limit: int = 100
    after: str | None = None

    def __post_init__(self) -> None:
        if self.verdict is not None:
            object.__setattr__(self, "verdict", _verdict(self.verdict))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, utc(value, name))
        if self.since and self.until and self.since >= self.until:
            raise RecordError(
                f"time range: since ({self.since.isoformat()}) must be before until "
                f"({self.until.isoformat()})"
            )
        for name in ("min_probability", "max_probability"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _unit_interval(name, value))
        low, high = self.min_probability, self.max_probability
        if low is not None and high is not None and low > high:
            raise RecordError(
                f"probability band: min_probability {low} is above max_probability {high}"
            )
        if not (1 <= self.limit <= MAX_PAGE_SIZE):
            raise RecordError(f"limit: expected 1 to {MAX_PAGE_SIZE} records, got {self.limit}")
        if self.after is not None:
            decode_cursor(self.after)


def encode_cursor(at: datetime, record_id: int) -> str:
    """The paging cursor after the record (``at``, ``record_id``)."""
    return f"{utc(at, 'cursor').isoformat()}~{record_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Inverse of :func:`encode_cursor`; :class:`RecordError` for anything else."""
    try:
        text, _, rid = cursor.rpartition("~")
        return utc(datetime.fromisoformat(text), "cursor"), int(rid)
    except (ValueError, RecordError):
        raise RecordError(
            f"after: {cursor!r} is not a cursor returned by a previous page (<ISO time>~<id>)"
        ) from None


@dataclass(frozen=True)
class RecordPage:
    """One page of records, newest first; ``next_cursor`` is ``None`` on the last page."""

    records: tuple[InspectionRecord, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class PurgeResult:
    """What :meth:`RecordStore.purge` deleted."""

    records_deleted: int
    photos_deleted: int
    photo_bytes_deleted: int
