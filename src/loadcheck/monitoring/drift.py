"""Drift of served features against the fitting data's, per feature.

At fit time :meth:`DriftReference.from_samples` summarises each feature of the fitting data: bin
edges at its deciles, the share of fitting values in each bin, and the lowest and highest
value. It travels in the score model's ``scorer.json`` (key :data:`REFERENCE_KEY`), so the
scorer that serves the model knows the data it was fitted on. :func:`measure_drift` compares
recent served feature vectors with it:

* **population stability index** (PSI) per feature: ``sum((a - e) * ln(a / e))`` over the bins,
  ``e`` the fitting shares (floored at :data:`SHARE_FLOOR`), ``a`` the served shares with half a
  count added to every bin (``(count + 0.5) / (M + 0.5 K)``: an empty bin of a small sample is
  not taken for a large shift). Rule of thumb: below 0.1 stable, 0.1-0.25 a moderate shift,
  above 0.25 a large one (:data:`PSI_LARGE`). The figure is noisy for small samples: served
  synthetic trucks of the fitting data's own style give a largest PSI over the features of
  0.09-0.16 at 200 trucks, 0.16-0.36 at 100, 0.5-0.6 at 30 (docs/observability.md).
* **out-of-range share** per feature: the share of served values below the fitting data's lowest
  or above its highest.

Everything here is pure NumPy; the scorer's metrics hook
(:mod:`loadcheck.serving.verdict_metrics`) exports the figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Key of the reference in the score model's metadata (``scorer.json``).
REFERENCE_KEY = "drift_reference"
#: Bins per feature (at the fitting data's quantiles; fewer when values repeat).
DEFAULT_BINS = 10
#: Fitting shares are floored at this before the PSI's logarithm.
SHARE_FLOOR = 1e-4
#: Counts added to every bin of a served sample (additive smoothing).
SMOOTHING_COUNT = 0.5
#: PSI above this is a large shift (the alert rule's threshold).
PSI_LARGE = 0.25


class DriftError(ValueError):
    """A reference or a served sample has the wrong shape, names or values."""


@dataclass(frozen=True)
class FeatureReference:
    """One feature of the fitting data.

    Attributes:
        name: the feature's name (:data:`loadcheck.features.spec.FEATURE_SPEC`).
        edges: the inner bin edges, strictly increasing (K edges make K + 1 bins; a value ``v``
            falls in bin ``i`` when ``edges[i-1] <= v < edges[i]``).
        shares: the fitting values' share per bin, ``len(edges) + 1`` values summing to 1.
        low / high: the fitting data's lowest and highest value.
    """

    name: str
    edges: tuple[float, ...]
    shares: tuple[float, ...]
    low: float
    high: float

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.edges) + 1:
            raise DriftError(
                f"feature {self.name!r}: {len(self.edges)} edges need {len(self.edges) + 1} "
                f"shares, got {len(self.shares)}"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise DriftError(f"feature {self.name!r}: edges must be strictly increasing")
        if abs(sum(self.shares) - 1.0) > 1e-3 or min(self.shares) < 0:
            raise DriftError(f"feature {self.name!r}: shares must be >= 0 and sum to 1")
        if not self.low <= self.high:
            raise DriftError(f"feature {self.name!r}: low {self.low} above high {self.high}")

    def bin_shares(self, values: np.ndarray) -> np.ndarray:
        """float64 ``[len(edges) + 1]``: the share of ``values`` in each bin."""
        return _bin_shares(np.asarray(self.edges, np.float64), values)


def _bin_shares(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, values, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    return counts / max(len(values), 1)


@dataclass(frozen=True)
class DriftReference:
    """The fitting data of one score model, per feature (see the module docstring)."""

    features: tuple[FeatureReference, ...]
    n_samples: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @classmethod
    def from_samples(
        cls, x: np.ndarray, names: Sequence[str], bins: int = DEFAULT_BINS
    ) -> DriftReference:
        """The reference of fitting features ``x`` (float ``[N, F]``, columns named ``names``).

        Raises:
            DriftError: ``x`` is not ``[N, len(names)]`` with N >= 1, or holds non-finite values.
        """
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != len(names) or len(x) == 0:
            raise DriftError(
                f"drift reference: expected features [N >= 1, {len(names)}], got {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise DriftError("drift reference: the fitting features hold NaN or infinite values")
        if bins < 2:
            raise DriftError(f"drift reference: bins must be >= 2, got {bins}")
        quantiles = np.linspace(0.0, 1.0, bins + 1)[1:-1]
        features = []
        for name, column in zip(names, x.T, strict=True):
            edges = np.unique(np.quantile(column, quantiles))
            edges = edges[edges > column.min()]  # no empty first bin below the minimum
            shares = _bin_shares(edges, column)
            features.append(
                FeatureReference(
                    str(name),
                    tuple(float(e) for e in edges),
                    tuple(float(s) for s in shares),
                    float(column.min()),
                    float(column.max()),
                )
            )
        return cls(tuple(features), len(x))

    def to_json(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "features": [
                {
                    "name": f.name,
                    "edges": list(f.edges),
                    "shares": list(f.shares),
                    "low": f.low,
                    "high": f.high,
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftReference:
        """Raises :class:`DriftError` naming what is missing or malformed."""
        try:
            features = tuple(
                FeatureReference(
                    str(f["name"]),
                    tuple(float(e) for e in f["edges"]),
                    tuple(float(s) for s in f["shares"]),
                    float(f["low"]),
                    float(f["high"]),
                )
                for f in data["features"]
            )
            return cls(features, int(data["n_samples"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DriftError):
                raise
            raise DriftError(
                f"drift reference: malformed ({type(exc).__name__}: {exc}); expected "
                "{'n_samples': int, 'features': [{'name', 'edges', 'shares', 'low', 'high'}]}"
            ) from None


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift: ``psi`` and ``out_of_range_share`` (see the module docstring)."""

    name: str
    psi: float
    out_of_range_share: float


@dataclass(frozen=True)
class DriftReport:
    """Drift of ``n_served`` served feature vectors, per feature in the reference's order."""

    n_served: int
    features: tuple[FeatureDrift, ...]

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors of the same bins (each floored at :data:`SHARE_FLOOR`)."""
    e = np.maximum(np.asarray(expected, np.float64), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, np.float64), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def measure_drift(reference: DriftReference, served: np.ndarray) -> DriftReport:
    """Drift of ``served`` (float ``[M, F]`` in the reference's feature order) per feature.

    Raises:
        DriftError: ``served`` is not ``[M >= 1, F]``.
    """
    served = np.asarray(served, np.float64)
    if served.ndim != 2 or served.shape[1] != len(reference.features) or len(served) == 0:
        raise DriftError(
            f"served features: expected [M >= 1, {len(reference.features)}], got {served.shape}"
        )
    out = []
    for feature, column in zip(reference.features, served.T, strict=True):
        finite = column[np.isfinite(column)]
        bins = len(feature.shares)
        counts = feature.bin_shares(finite) * len(finite)
        served_shares = (counts + SMOOTHING_COUNT) / (len(finite) + SMOOTHING_COUNT * bins)
        psi = population_stability_index(np.asarray(feature.shares), served_shares)
        outside = np.count_nonzero((finite < feature.low) | (finite > feature.high))
        outside += len(column) - len(finite)  # NaN / inf are outside any range
        out.append(FeatureDrift(feature.name, psi, outside / len(column)))
    return DriftReport(len(served), tuple(out))
