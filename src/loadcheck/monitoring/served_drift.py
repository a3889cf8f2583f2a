"""Drift of recorded verdicts' features against the served scorer version's fitting data.

The console's Drift page, ``loadcheck records drift`` and the console's drift gauges share this:

* :func:`served_reference` reads the drift reference (:data:`~loadcheck.monitoring.drift.
  REFERENCE_KEY`) from ``scorer.json`` of the version the workspace serves for an integrator
  (plain JSON; the booster is not loaded);
* :func:`recent_features` takes the features of an integrator's (and camera's) newest inspection
  records from the records store, in the reference's feature order;
* :func:`assess_drift` measures them (:func:`~loadcheck.monitoring.drift.measure_drift`) and
  judges the figures, and :meth:`DriftAssessment.message` says it in plain language.

Thresholds (module constants, docs/observability.md):

* a feature **shifted a lot** when its PSI is above :data:`~loadcheck.monitoring.drift.PSI_LARGE`
  (0.25) plus twice the PSI that samples of these sizes reach by chance,
  ``2 x (bins - 1) x (1 / records + 1 / fitting samples)`` (a chi-square's mean; for 10 bins,
  200 records and 442 fitting trucks 0.13, for 50 records 0.40). Same-style synthetic trucks stay
  below it; trucks of another scene style go far above it;
* a feature is **out of range** when more than :data:`OUT_OF_RANGE_WARN` (20 %, the alert rule's
  figure) of the records lie outside the fitting data's lowest..highest;
* fewer than :data:`MIN_RECORDS` records with features: no figure at all (too noisy).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from loadcheck.monitoring.drift import (
    PSI_LARGE,
    REFERENCE_KEY,
    DriftError,
    DriftReference,
    DriftReport,
    FeatureDrift,
    measure_drift,
)

if TYPE_CHECKING:
    from loadcheck.integrators.store import IntegratorStore
    from loadcheck.records.store import RecordStore

LOGGER = logging.getLogger(__name__)

#: Fewer records with features than this: no drift figure (PSI of tiny samples is noise).
MIN_RECORDS = 30
#: Records compared by default (the scorer's recent window is 300 photos, 200 trucks minimum).
DEFAULT_LAST = 200
#: A feature with more than this share of values outside the fitting range is flagged.
OUT_OF_RANGE_WARN = 0.2
#: Largest number of records one assessment reads.
MAX_LAST = 5000


class DriftStatus(StrEnum):
    """The outcome of one assessment."""

    STABLE = "stable"
    DRIFTING = "drifting"
    TOO_FEW_RECORDS = "too_few_records"
    NO_REFERENCE = "no_reference"


@dataclass(frozen=True)
class ServedReference:
    """The drift reference of an integrator's served version.

    Attributes:
        integrator: the integrator's name.
        version: the served scorer version (``None``: never fitted).
        reference: the fitting data's summary, or ``None`` (see ``reason``).
        reason: why there is no reference (empty when there is one).
        spec_version: the feature-spec version the served version was fitted with.
    """

    integrator: str
    version: int | None
    reference: DriftReference | None
    reason: str = ""
    spec_version: str | None = None


@dataclass(frozen=True)
class RecentFeatures:
    """Feature vectors of the newest records, newest first.

    Attributes:
        values: float64 ``[M, F]`` in the reference's feature order.
        n_records: records read (with or without features).
        scorer_versions: how many of the used records each scorer version answered
            (``None``: unknown).
    """

    values: np.ndarray
    n_records: int
    scorer_versions: dict[int | None, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureFinding:
    """One feature's figures and whether they are flagged."""

    name: str
    psi: float
    out_of_range_share: float
    shifted: bool
    out_of_range: bool


@dataclass(frozen=True)
class DriftAssessment:
    """What the Drift page, the CLI and the gauges show for an integrator (and camera).

    Attributes:
        status: see :class:`DriftStatus`.
        integrator / camera: what was assessed (``camera=None``: every camera).
        version: the served scorer version the records were compared with.
        n_records / n_used: records read, and those with features used.
        psi_threshold: PSI above which a feature counts as shifted a lot for these sample sizes.
        findings: per feature, largest PSI first (empty without a figure).
        reason: why there is no figure (``TOO_FEW_RECORDS`` / ``NO_REFERENCE``).
        other_versions: used records answered by another (or an unknown) scorer version.
    """

    status: DriftStatus
    integrator: str
    camera: str | None
    version: int | None
    n_records: int = 0
    n_used: int = 0
    psi_threshold: float = PSI_LARGE
    findings: tuple[FeatureFinding, ...] = ()
    reason: str = ""
    other_versions: int = 0

    @property
    def shifted(self) -> tuple[FeatureFinding, ...]:
        return tuple(f for f in self.findings if f.shifted)

    @property
    def out_of_range(self) -> tuple[FeatureFinding, ...]:
        return tuple(f for f in self.findings if f.out_of_range)

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.findings), default=0.0)

    def subject(self) -> str:
        if self.camera is not None:
            return f"camera {self.camera} (integrator {self.integrator})"
        return f"integrator {self.integrator}"

    def message(self) -> str:
        """One plain-language sentence (or two) for operators."""
        who = self.subject()
        if self.status is DriftStatus.NO_REFERENCE:
            return f"no drift figure for {who}: {self.reason}"
        if self.status is DriftStatus.TOO_FEW_RECORDS:
            return f"no drift figure for {who}: {self.reason}"
        if self.status is DriftStatus.STABLE:
            return (
                f"the photos of {who} still look like the fitting data of version "
                f"{self.version}: no feature shifted a lot over the last {self.n_used} records "
                f"(largest PSI {self.max_psi:.2f}, threshold {self.psi_threshold:.2f})"
            )
        parts = []
        if self.shifted:
            top = self.shifted[0]
            n = len(self.shifted)
            parts.append(
                f"{n} feature{'s' if n != 1 else ''} shifted a lot, largest: "
                f"{top.name} PSI {top.psi:.2f}"
            )
        if self.out_of_range:
            worst = max(self.out_of_range, key=lambda f: f.out_of_range_share)
            n = len(self.out_of_range)
            parts.append(
                f"{n} feature{'s' if n != 1 else ''} often outside the fitting range, most: "
                f"{worst.name} ({worst.out_of_range_share:.0%} of the records)"
            )
        return (
            f"the photos of {who} no longer look like the fitting data of version "
            f"{self.version}: {'; '.join(parts)} (last {self.n_used} records). Check the camera "
            "(lens, angle, light), or add recent photos to the fitting data and refit."
        )


def served_reference(store: IntegratorStore, integrator: str) -> ServedReference:
    """The drift reference in ``scorer.json`` of the version the workspace serves.

    Raises:
        NotFoundError: no integrator of that name.
    """
    from loadcheck.scoring.model import METADATA_FILE

    version = store.get(integrator).served_version
    if version is None:
        return ServedReference(integrator, None, None, "the integrator has no fitted version")
    path = Path(store.model_dir(integrator)) / str(version) / METADATA_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return ServedReference(
            integrator, version, None, f"cannot read {path}: {type(exc).__name__}: {exc}"
        )
    raw = meta.get(REFERENCE_KEY) if isinstance(meta, dict) else None
    if raw is None:
        return ServedReference(
            integrator,
            version,
            None,
            f"version {version} was fitted before fits stored a drift reference; refit the "
            "integrator to get drift figures",
        )
    spec = meta.get("feature_spec_version")
    try:
        reference = DriftReference.from_json(raw)
        return ServedReference(integrator, version, reference, spec_version=spec and str(spec))
    except DriftError as exc:
        return ServedReference(integrator, version, None, f"version {version}: {exc}")


def recent_features(
    records: RecordStore,
    names: tuple[str, ...],
    *,
    integrator: str,
    camera: str | None = None,
    last: int = DEFAULT_LAST,
    since: datetime | None = None,
    spec_version: str | None = None,
) -> RecentFeatures:
    """Features of the newest ``last`` records of ``integrator`` (and ``camera``) since
    ``since``, in the order ``names``; records without features, lacking one of ``names``, or
    (with ``spec_version``) of another feature-spec version are read but not used.

    Raises:
        RecordError: ``last`` outside 1..:data:`MAX_LAST`, or a naive ``since``.
    """
    from loadcheck.records.model import MAX_PAGE_SIZE, RecordError, RecordQuery

    if not 1 <= last <= MAX_LAST:
        raise RecordError(f"last: expected 1 to {MAX_LAST} records, got {last}")
    rows: list[list[float]] = []
    versions: Counter[int | None] = Counter()
    read = 0
    cursor = None
    while read < last:
        page = records.query(
            RecordQuery(
                integrator=integrator,
                camera=camera,
                since=since,
                limit=min(MAX_PAGE_SIZE, last - read),
                after=cursor,
            )
        )
        for record in page.records:
            read += 1
            features = record.features
            if features is None or any(n not in features for n in names):
                continue
            if spec_version is not None and record.feature_spec_version != spec_version:
                continue
            rows.append([features[n] for n in names])
            versions[record.provenance.scorer_version] += 1
        cursor = page.next_cursor
        if cursor is None or not page.records:
            break
    values = np.asarray(rows, np.float64).reshape(len(rows), len(names))
    return RecentFeatures(values, read, dict(versions))


def psi_threshold(bins: int, n_served: int, n_reference: int) -> float:
    """PSI above which a feature of ``bins`` bins counts as shifted a lot (module docstring)."""
    chance = (bins - 1) * (1.0 / max(n_served, 1) + 1.0 / max(n_reference, 1))
    return PSI_LARGE + 2.0 * chance


def judge(
    reference: DriftReference, report: DriftReport
) -> tuple[float, tuple[FeatureFinding, ...]]:
    """The PSI threshold and per-feature findings (largest PSI first) of a drift report."""
    by_name = {f.name: f for f in reference.features}
    threshold = 0.0
    findings = []
    for figure in report.features:
        limit = psi_threshold(
            len(by_name[figure.name].shares), report.n_served, reference.n_samples
        )
        threshold = max(threshold, limit)
        findings.append(_finding(figure, limit))
    findings.sort(key=lambda f: -f.psi)
    return threshold, tuple(findings)


def _finding(figure: FeatureDrift, limit: float) -> FeatureFinding:
    return FeatureFinding(
        figure.name,
        figure.psi,
        figure.out_of_range_share,
        shifted=figure.psi > limit,
        out_of_range=figure.out_of_range_share > OUT_OF_RANGE_WARN,
    )


def assess_drift(
    integrators: IntegratorStore,
    records: RecordStore,
    integrator: str,
    *,
    camera: str | None = None,
    last: int = DEFAULT_LAST,
    since: datetime | None = None,
) -> DriftAssessment:
    """Drift of ``integrator``'s (and ``camera``'s) newest records against its served version.

    Raises:
        NotFoundError: no integrator of that name; RecordError: bad ``last`` / ``since``.
    """
    served = served_reference(integrators, integrator)
    if served.reference is None:
        return DriftAssessment(
            DriftStatus.NO_REFERENCE, integrator, camera, served.version, reason=served.reason
        )
    reference = served.reference
    recent = recent_features(
        records,
        reference.names,
        integrator=integrator,
        camera=camera,
        last=last,
        since=since,
        spec_version=served.spec_version,
    )
    used = len(recent.values)
    other = sum(n for v, n in recent.scorer_versions.items() if v != served.version)
    if used < MIN_RECORDS:
        window = f"at most {last}" + ("" if since is None else f", since {since.isoformat()}")
        return DriftAssessment(
            DriftStatus.TOO_FEW_RECORDS,
            integrator,
            camera,
            served.version,
            n_records=recent.n_records,
            n_used=used,
            reason=(
                f"{used} of the {recent.n_records} newest records ({window}) hold features "
                f"(a loaded truck, the served version's feature spec); at least {MIN_RECORDS} "
                "are needed"
            ),
            other_versions=other,
        )
    report = measure_drift(reference, recent.values)
    threshold, findings = judge(reference, report)
    drifting = any(f.shifted or f.out_of_range for f in findings)
    return DriftAssessment(
        DriftStatus.DRIFTING if drifting else DriftStatus.STABLE,
        integrator,
        camera,
        served.version,
        n_records=recent.n_records,
        n_used=used,
        psi_threshold=threshold,
        findings=findings,
        other_versions=other,
    )


def recorded_cameras(records: RecordStore, integrator: str) -> tuple[str, ...]:
    """The cameras named in ``integrator``'s records, sorted."""
    import sqlalchemy as sa

    from loadcheck.records.tables import records as table

    with records.engine.connect() as conn:
        found = conn.execute(
            sa.select(table.c.camera)
            .where(table.c.integrator == integrator, table.c.camera.is_not(None))
            .distinct()
        ).scalars()
        return tuple(sorted(str(c) for c in found))
