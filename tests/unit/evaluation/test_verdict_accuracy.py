"""loadcheck.evaluation.verdict_accuracy: the oracle benchmark's figures and its comparisons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadcheck.evaluation.oracles import VERSIONS
from loadcheck.evaluation.significance import paired_comparison
from loadcheck.evaluation.verdict_accuracy import (
    OracleRun,
    evaluate,
    format_table,
    load_comparison_flags,
    scenes_tested,
)
from loadcheck.synth import render_scene

SIZE = (320, 180)
FIT, TEST = 30, 6


def _run(tmp_path: Path, **changes: Any) -> OracleRun:
    settings: dict[str, Any] = {
        "models": tmp_path / "models",
        "fit_seed": 5,
        "fit_count": FIT,
        "test_seeds": (6, 7),
        "test_count": TEST,
        "fit_curve": (1, 20, FIT),
        "size_wh": SIZE,
        "cache": tmp_path / "cache",
        "progress": False,
    }
    return OracleRun(**{**settings, **changes})


@pytest.fixture
def scenes() -> list[Any]:
    return [render_scene(5, i, SIZE) for i in range(FIT)] + [
        render_scene(seed, i, SIZE) for seed in (6, 7) for i in range(TEST)
    ]


def test_with_true_served_masks_every_version_scores_the_same(
    truth_pipeline: Callable[..., Any], scenes: list[Any], tmp_path: Path
) -> None:
    result = evaluate(_run(tmp_path), truth_pipeline(scenes))
    rows = [result["accuracy"][name] for name in VERSIONS]
    assert all(r == rows[0] for r in rows)  # substituting the truth for the truth changes nothing
    curve = result["fit_curve"]
    assert list(curve) == ["1", "20", str(FIT)]
    assert curve["1"] == {"served": None, "true_both": None}  # one photo: nothing to fit
    assert curve[str(FIT)]["served"] == rows[0]["accuracy"]  # all scenes: the main figure
    low, high = rows[0]["ci95"]
    assert rows[0]["n"] == 2 * TEST and low <= rows[0]["accuracy"] <= high
    assert result["test"] == {"seeds": [6, 7], "count_per_seed": TEST}
    per_seed = result["served_by_seed"]
    assert list(per_seed) == ["6", "7"]  # each seed's share of the pooled figure
    assert sum(per_seed.values()) / 2 == pytest.approx(rows[0]["accuracy"], abs=1e-3)
    right = result["served_right"]
    assert len(right) == 2 * TEST
    assert sum(right) / len(right) == pytest.approx(rows[0]["accuracy"], abs=1e-4)
    assert "served  " in format_table(result) and "per seed: 6" in format_table(result)


def test_a_run_compared_with_itself_gains_and_loses_nothing(
    truth_pipeline: Callable[..., Any], scenes: list[Any], tmp_path: Path
) -> None:
    run = _run(tmp_path, fit_curve=())
    first = evaluate(run, truth_pipeline(scenes))
    path = tmp_path / "first.json"
    path.write_text(json.dumps(first))
    again = evaluate(run, truth_pipeline(scenes))
    earlier = load_comparison_flags(path, run.scenes)
    result = paired_comparison(earlier, [bool(f) for f in again["served_right"]])
    assert result == {"gained": 0, "lost": 0, "change": 0.0, "p_value": 1.0, "n": 2 * TEST}


def test_a_comparison_refuses_a_run_of_other_scenes_or_without_per_scene_verdicts(
    tmp_path: Path,
) -> None:
    scenes = scenes_tested((2, 3), 300, (960, 540))
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({**scenes, "served_right": [1, 0, 1]}))
    assert load_comparison_flags(earlier, scenes) == [True, False, True]
    with pytest.raises(ValueError, match="tested other scenes"):
        load_comparison_flags(earlier, scenes_tested((2,), 300, (960, 540)))
    earlier.write_text(json.dumps(scenes))  # a run from before served_right was written
    with pytest.raises(ValueError, match="rerun it with --json"):
        load_comparison_flags(earlier, scenes)
    with pytest.raises(ValueError, match="cannot read"):
        load_comparison_flags(tmp_path / "missing.json", scenes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"test_seeds": (5,)}, "differ from the fitting seed"),
        ({"fit_curve": (FIT + 1,)}, "fit curve"),
        ({"prompts": "guess"}, "prompts"),
    ],
)
def test_a_run_refuses_settings_that_cannot_be_served(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, **changes)
