"""loadcheck.evaluation.significance: Wilson intervals and the exact McNemar test."""

from __future__ import annotations

import pytest

from loadcheck.evaluation.significance import (
    accuracy_summary,
    mcnemar_exact_p,
    paired_comparison,
    wilson,
)


def test_the_wilson_interval_matches_known_values() -> None:
    low, high = wilson(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-3)
    assert high == pytest.approx(0.9448, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(300, 300)
    assert high == pytest.approx(1.0) and 0.98 < low < 1.0


def test_an_accuracy_summary_holds_the_accuracy_inside_its_interval() -> None:
    summary = accuracy_summary([True] * 9 + [False])
    assert summary["accuracy"] == 0.9 and summary["n"] == 10
    assert summary["ci95"][0] < 0.9 < summary["ci95"][1]


@pytest.mark.parametrize(
    ("gained", "lost", "p"),
    [
        (0, 0, 1.0),  # no discordant scene
        (10, 10, 1.0),
        (8, 0, 2 / 2**8),  # 0.0078: not chance
        (2, 1, 1.0),  # 2 * P(X <= 1 | 3) = 2 * 4/8, capped at 1
        (0, 5, 2 / 2**5),  # symmetric
    ],
)
def test_the_exact_mcnemar_p_is_a_two_sided_binomial_test_of_the_discordant_scenes(
    gained: int, lost: int, p: float
) -> None:
    assert mcnemar_exact_p(gained, lost) == pytest.approx(p)


def test_a_paired_comparison_counts_gains_and_losses_scene_by_scene() -> None:
    earlier = [True] * 90 + [False] * 10
    now = [True] * 80 + [False] * 10 + [True] * 10  # 10 lost, 10 gained
    assert paired_comparison(earlier, now) == {
        "gained": 10,
        "lost": 10,
        "change": 0.0,
        "p_value": 1.0,
        "n": 100,
    }
    now = [True] * 90 + [True] * 8 + [False] * 2  # 8 gained, none lost
    result = paired_comparison(earlier, now)
    assert (result["gained"], result["lost"], result["change"]) == (8, 0, 0.08)
    assert result["p_value"] == pytest.approx(2 / 2**8, abs=1e-4)


@pytest.mark.parametrize(
    ("earlier", "now", "message"),
    [([True], [True, False], "different scene counts"), ([], [], "no scenes")],
)
def test_a_paired_comparison_refuses_runs_of_other_scene_counts_or_none(
    earlier: list[bool], now: list[bool], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        paired_comparison(earlier, now)
