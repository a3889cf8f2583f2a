"""Drift of served features against the fitting data's: PSI and out-of-range share."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.monitoring.drift import (
    PSI_LARGE,
    DriftError,
    DriftReference,
    measure_drift,
    population_stability_index,
)

NAMES = ("fullness", "height", "flat")


def _fitting(rng: np.random.Generator, n: int = 1000) -> np.ndarray:
    return np.column_stack([rng.normal(0.8, 0.1, n), rng.normal(2.0, 0.5, n), np.zeros(n)])


def test_served_features_like_the_fitting_data_show_no_drift() -> None:
    rng = np.random.default_rng(1)
    reference = DriftReference.from_samples(_fitting(rng), NAMES)
    report = measure_drift(reference, _fitting(rng, 300))
    assert report.n_served == 300
    assert report.max_psi < 0.1
    assert all(f.out_of_range_share < 0.02 for f in report.features)


def test_psi_and_out_of_range_share_rise_with_the_shift() -> None:
    rng = np.random.default_rng(2)
    reference = DriftReference.from_samples(_fitting(rng), NAMES)
    figures = []
    for shift in (0.0, 0.5, 1.5):
        served = _fitting(rng, 300)
        served[:, 1] += shift
        height = measure_drift(reference, served).features[1]
        figures.append((height.psi, height.out_of_range_share))
    psis, outside = zip(*figures, strict=True)
    assert psis[0] < psis[1] < psis[2] and psis[2] > PSI_LARGE
    assert outside[0] < outside[2]


def test_a_constant_feature_has_one_bin_and_drifts_when_it_moves() -> None:
    rng = np.random.default_rng(3)
    reference = DriftReference.from_samples(_fitting(rng), NAMES)
    assert reference.features[2].edges == () and reference.features[2].shares == (1.0,)
    served = _fitting(rng, 100)
    served[:, 2] = 1.0
    flat = measure_drift(reference, served).features[2]
    assert flat.out_of_range_share == 1.0


def test_nan_served_values_count_as_out_of_range() -> None:
    rng = np.random.default_rng(4)
    reference = DriftReference.from_samples(_fitting(rng), NAMES)
    served = _fitting(rng, 10)
    served[:5, 0] = np.nan
    assert measure_drift(reference, served).features[0].out_of_range_share == 0.5


def test_the_reference_survives_json() -> None:
    rng = np.random.default_rng(5)
    reference = DriftReference.from_samples(_fitting(rng), NAMES)
    assert DriftReference.from_json(reference.to_json()) == reference


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"features": []}, "malformed"),
        ({"n_samples": 3, "features": [{"name": "a"}]}, "malformed"),
        (
            {
                "n_samples": 3,
                "features": [{"name": "a", "edges": [1.0], "shares": [1.0], "low": 0, "high": 2}],
            },
            "1 edges need 2 shares",
        ),
    ],
)
def test_a_malformed_reference_is_refused_with_what_is_expected(data, message) -> None:
    with pytest.raises(DriftError, match=message):
        DriftReference.from_json(data)


def test_served_features_of_the_wrong_width_are_refused() -> None:
    reference = DriftReference.from_samples(np.ones((5, 3)), NAMES)
    with pytest.raises(DriftError, match=r"expected \[M >= 1, 3\], got \(4, 2\)"):
        measure_drift(reference, np.ones((4, 2)))


def test_psi_of_identical_shares_is_zero() -> None:
    shares = np.array([0.2, 0.3, 0.5])
    assert population_stability_index(shares, shares) == 0.0


def _scene_features(seed: int, trucks: int, **overrides: object) -> np.ndarray:
    from loadcheck.features.extract import extract_features
    from loadcheck.synth import render_scene

    rows: list[np.ndarray] = []
    index = 0
    while len(rows) < trucks:
        scene = render_scene(seed, index, size_wh=(320, 180), **overrides)
        rows += [extract_features(t.to_truck_masks()).values for t in scene.trucks if t.has_load]
        index += 1
    return np.stack(rows[:trucks])


@pytest.mark.parametrize("style", [{"fill_level": 0.3}, {"view": "elevated"}])
def test_drift_rises_when_served_scenes_are_of_another_style(style: dict[str, object]) -> None:
    from loadcheck.features.spec import FEATURE_SPEC

    reference = DriftReference.from_samples(_scene_features(0, 300), FEATURE_SPEC.names)
    same = measure_drift(reference, _scene_features(1, 200))
    other = measure_drift(reference, _scene_features(1, 200, **style))
    assert same.max_psi < PSI_LARGE
    assert other.max_psi > 4 * PSI_LARGE
