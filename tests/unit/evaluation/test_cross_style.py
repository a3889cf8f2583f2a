"""Leave-one-style-out tooling: the figures on a pipeline that answers the truth, the fold
arguments, and benchmarks/cross_style.py end to end on the tiny models (--quick)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from loadcheck.evaluation.cross_style import (
    CrossStyleRun,
    Fold,
    evaluate,
    leave_one_out,
    styled_scenes,
)
from loadcheck.evaluation.scenes import scene_folder
from loadcheck.synth.styles import STYLE_NAMES, render_styled

SIZE = (320, 180)


def _served_scenes(fit: tuple[str, ...], fit_count: int, tested: str, test_count: int) -> list:
    """The scenes in the order the evaluation serves them: fitting scenes, then test scenes."""
    fitting = [render_styled(1, i, SIZE, fit[i % len(fit)]) for i in range(fit_count)]
    return fitting + [render_styled(2, i, SIZE, tested) for i in range(test_count)]


def test_a_pipeline_that_answers_the_truth_finds_every_box_and_mask(
    truth_pipeline: Callable[..., Any], tmp_path: Path
) -> None:
    fold = Fold("night", tmp_path, ("classic", "dust"))
    run = CrossStyleRun(
        (fold,), fit_count=14, test_count=5, size_wh=SIZE, cache=tmp_path / "c", progress=False
    )
    pipeline = truth_pipeline(_served_scenes(fold.train_styles, 14, "night", 5))
    result = evaluate(run, lambda models: pipeline)
    (row,) = result["folds"]
    assert row["held_out"] == "night" and row["train_styles"] == ["classic", "dust"]
    assert not row["in_style"]
    assert row["accuracy"]["n"] == 5 and len(row["served_right"]) == 5
    assert row["detector"]["bed"]["recall_at_conf"] == 1.0
    assert row["detector"]["bed"]["n_true"] >= 5
    # (the stand-in answers masks by box: a truck whose load box is its bed box gets its load)
    assert row["mask_iou"]["bed"]["median"] == 1.0 and row["mask_iou"]["bed"]["mean"] > 0.98
    assert row["accuracy"]["accuracy"] == row["accuracy_true_masks"]["accuracy"]
    assert result["worst_accuracy"] == row["accuracy"]["accuracy"]
    assert pipeline.served == 19  # every scene served once


def test_folds_sharing_models_and_styles_serve_the_fitting_scenes_once(
    truth_pipeline: Callable[..., Any], tmp_path: Path
) -> None:
    folds = (Fold("quarry", tmp_path, ("classic",)), Fold("dust", tmp_path, ("classic",)))
    run = CrossStyleRun(
        folds, fit_count=12, test_count=3, size_wh=SIZE, cache=tmp_path / "c", progress=False
    )
    scenes = _served_scenes(("classic",), 12, "quarry", 3)
    scenes += [render_styled(2, i, SIZE, "dust") for i in range(3)]
    pipeline = truth_pipeline(scenes)
    opened: list[Path] = []

    def open_pipeline(models: Path) -> Any:
        opened.append(models)
        return pipeline

    result = evaluate(run, open_pipeline)
    assert [f["held_out"] for f in result["folds"]] == ["quarry", "dust"]
    assert pipeline.served == 18 and opened == [tmp_path]


def test_styled_scenes_draw_scene_i_in_style_i_mod_n_from_each_styles_cache(
    tmp_path: Path,
) -> None:
    styles = ("classic", "night")
    scenes = list(styled_scenes(tmp_path, 3, 4, SIZE, styles))
    for i, scene in enumerate(scenes):
        rendered = render_styled(3, i, SIZE, styles[i % 2])
        assert scene.label == rendered.label.value
    for style, stems in (("classic", {0, 2}), ("night", {1, 3})):
        cached = {p.stem for p in scene_folder(tmp_path, 3, SIZE, style).glob("*.npz")}
        assert cached == {scenes[i].stem for i in stems}
    again = list(styled_scenes(tmp_path, 3, 4, SIZE, styles))
    assert [s.jpeg for s in again] == [s.jpeg for s in scenes]


def test_leave_one_out_trains_on_every_other_style_and_unknown_styles_are_named(
    tmp_path: Path,
) -> None:
    fold = leave_one_out("dust", tmp_path)
    assert fold.train_styles == tuple(s for s in STYLE_NAMES if s != "dust")
    with pytest.raises(ValueError, match="sunny"):
        leave_one_out("sunny", tmp_path)
    with pytest.raises(ValueError, match="differ"):
        CrossStyleRun((fold,), fit_seed=3, test_seed=3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "exactly one"),
        (["--fold", "quarry"], "--fold"),
        (["--fold", "sunny={tmp}"], "sunny"),
        (["--fold", "quarry=/nonexistent/models"], "--fold quarry"),
        (["--models", "{tmp}", "--styles", "sunny"], "--styles"),
        (["--folds-dir", "{tmp}", "--train-styles", "classic"], "--train-styles"),
        (["--models", "{tmp}", "--test-seed", "1"], "--test-seed"),
    ],
)
def test_bad_arguments_exit_with_status_two_naming_the_option(
    benchmark: Callable[[str], ModuleType],
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        benchmark("cross_style").main([*(a.format(tmp=tmp_path) for a in argv), "--no-progress"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.torch
def test_the_quick_run_serves_folds_end_to_end_on_the_tiny_models(
    benchmark: Callable[[str], ModuleType], tiny_models: Path, tmp_path: Path
) -> None:
    folds = tmp_path / "folds"
    for style in ("quarry", "night"):
        (folds / style).mkdir(parents=True)
        (folds / style / "onnx").symlink_to(tiny_models, target_is_directory=True)
    out = tmp_path / "cross.json"
    result = benchmark("cross_style").main(
        [
            *("--folds-dir", str(folds), "--styles", "quarry,night", "--quick"),
            *("--cache", str(tmp_path / "cache"), "--json", str(out), "--no-progress"),
            *("--threads", "1"),
        ]
    )
    written = json.loads(out.read_text())
    assert [f["held_out"] for f in written["folds"]] == ["quarry", "night"]
    assert written["folds"][0]["train_styles"] == [s for s in STYLE_NAMES if s != "quarry"]
    for fold in written["folds"]:
        assert fold["accuracy"]["n"] == 6
        assert 0.0 <= fold["accuracy"]["accuracy"] <= 1.0
        assert fold["detector"]["bed"]["n_true"] >= 6
        assert fold["cards"]["detector"]["file"] == "detector.onnx"
    assert written["size_wh"] == [320, 180] and written["fit"]["count"] == 16
    assert result["worst_accuracy"] == min(f["accuracy"]["accuracy"] for f in written["folds"])
