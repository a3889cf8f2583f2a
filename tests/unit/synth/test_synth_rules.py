"""The labelling rule of the synthetic scenes."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.payloads import Verdict
from loadcheck.synth import rules
from loadcheck.synth.profiles import (
    LOAD_SHAPES,
    PROFILE_STATIONS,
    hollow,
    make_profile,
    shift_to_fill,
)

Q, U, N = Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED


@pytest.mark.parametrize(
    ("fill", "pit", "balance", "has_load", "expected"),
    [
        (1.0, 0.0, 0.0, True, Q),
        (0.90, 0.15, 0.20, True, Q),  # every limit is inclusive
        (0.90, 0.15, -0.20, True, Q),
        (0.8999, 0.0, 0.0, True, U),  # under-filled
        (1.0, 0.1501, 0.0, True, U),  # pitted
        (1.0, 0.0, 0.2001, True, U),  # back-heavy
        (1.0, 0.0, -0.2001, True, U),  # front-heavy
        (0.3, 0.4, 0.5, True, U),
        (0.0, 0.0, 0.0, False, N),  # empty truck
        (1.0, 0.0, 0.0, False, N),  # no load wins over any measure
    ],
)
def test_truck_verdict_follows_the_rule_table(fill, pit, balance, has_load, expected):
    assert rules.truck_verdict(fill, pit, balance, has_load) is expected


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], N),
        ([N], N),
        ([N, N], N),
        ([Q], Q),
        ([U, Q], U),
        ([Q, U], Q),
        ([N, U], U),  # an empty prominent truck defers to the loaded one behind it
        (["Qualified"], Q),
    ],
)
def test_image_verdict_is_that_of_the_most_prominent_loaded_truck(verdicts, expected):
    assert rules.image_verdict(verdicts) is expected


def test_rule_constants_are_the_documented_ones():
    assert rules.QUALIFIED_MIN_FILL == 0.9
    assert rules.QUALIFIED_MAX_PIT_DEPTH == 0.15
    assert rules.QUALIFIED_MAX_IMBALANCE == 0.2


def test_pit_depth_is_zero_for_flat_heaped_and_sloped_profiles():
    u = np.linspace(0, 1, PROFILE_STATIONS)
    assert rules.pit_depth_of_profile(np.full(PROFILE_STATIONS, 0.7)) == 0.0
    assert rules.pit_depth_of_profile(1.0 + 0.3 * np.sin(np.pi * u)) == pytest.approx(0.0)
    assert rules.pit_depth_of_profile(1.3 - 0.8 * u) == pytest.approx(0.0)


def test_pit_depth_measures_a_hollow_between_two_rims():
    profile = np.full(PROFILE_STATIONS, 1.0) - hollow(0.5, 0.3, 0.05)
    assert rules.pit_depth_of_profile(profile) == pytest.approx(0.3, abs=0.01)
    # The hollow is measured from the lower of the two sides.
    profile[:48] += 0.2
    assert rules.pit_depth_of_profile(profile) == pytest.approx(0.3, abs=0.01)


def test_balance_is_back_minus_front_mean_height():
    u = np.linspace(0, 1, PROFILE_STATIONS)
    assert rules.balance_of_profile(np.ones(PROFILE_STATIONS)) == 0.0
    assert rules.balance_of_profile(0.5 + u) > 0.4  # back-heavy
    assert rules.balance_of_profile(1.5 - u) < -0.4  # front-heavy


def test_fill_level_of_profile_caps_heaps_at_the_rim():
    assert rules.fill_level_of_profile(np.full(10, 1.4)) == 1.0
    assert rules.fill_level_of_profile([0.5, 0.5]) == 0.5
    assert rules.fill_level_of_profile([0.0, 1.0]) == 0.5


def test_profiles_reject_empty_or_non_finite_input():
    with pytest.raises(ValueError, match="empty"):
        rules.pit_depth_of_profile([])
    with pytest.raises(ValueError, match="finite"):
        rules.balance_of_profile([0.1, float("nan")])


@pytest.mark.parametrize("target", [0.0, 0.25, 0.6, 0.9, 1.0])
def test_shift_to_fill_reaches_the_target_fill(target):
    rng = np.random.default_rng(0)
    profile = make_profile("pitted", rng)
    assert rules.fill_level_of_profile(shift_to_fill(profile, target)) == pytest.approx(
        target, abs=1e-6
    )


@pytest.mark.parametrize("shape", LOAD_SHAPES)
def test_every_load_shape_gives_a_bounded_profile(shape):
    for seed in range(20):
        profile = make_profile(shape, np.random.default_rng(seed))
        assert profile.shape == (PROFILE_STATIONS,)
        assert profile.min() >= 0.0
        assert profile.max() <= 1.45
        assert (profile.max() == 0.0) == (shape == "empty")


def test_load_shapes_land_on_their_intended_side_of_the_rule():
    verdicts: dict[str, set[Verdict]] = {}
    for shape in ("level_full", "under_filled", "one_sided"):
        verdicts[shape] = set()
        for seed in range(30):
            p = make_profile(shape, np.random.default_rng(seed))
            verdicts[shape].add(
                rules.truck_verdict(
                    rules.fill_level_of_profile(p),
                    rules.pit_depth_of_profile(p),
                    rules.balance_of_profile(p),
                    True,
                )
            )
    assert verdicts["level_full"] == {Q}
    assert verdicts["under_filled"] == {U}
    assert verdicts["one_sided"] == {U}
