"""The review-flag figures and the choice of settings on served scenes' evidence, their split
by scene style, and benchmarks/review_flags.py's style options (its serving stubbed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest

from loadcheck.evaluation.review_flags import (
    ScoredScene,
    by_style,
    choose_settings,
    figures,
    figures_by_style,
    fitted_and_judged,
    out_of_fold,
    scene_from_json,
    scene_to_json,
)
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.payloads import Verdict
from loadcheck.scoring.review import ReviewEvidence, ReviewSettings
from loadcheck.synth.styles import STYLE_NAMES

Q, U, N = Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED


def _scene(label: Verdict, verdict: Verdict, *, p: float = 0.9, iou: float = 0.95) -> ScoredScene:
    loaded = verdict is not N
    evidence = ReviewEvidence(
        verdict=verdict,
        probability=p if loaded else 0.0,
        threshold=0.5,
        trucks=1,
        loaded=int(loaded),
        bed_confidence=0.9,
        bed_mask_iou=iou,
        load_confidence=0.9 if loaded else None,
        load_mask_iou=iou if loaded else None,
        stray_loads=0,
        edge_margin=0.2,
    )
    features = np.full(len(FEATURE_SPEC), p, np.float32) if loaded else None
    return ScoredScene(label.value, features, evidence)


OFF = ReviewSettings(0.0, 0.0, 0.0, 0.0, False, False, False, 0)


def test_figures_count_flagged_photos_and_flagged_wrong_verdicts() -> None:
    scenes = [
        _scene(Q, Q),  # right, clear
        _scene(Q, U, p=0.45),  # wrong, near the threshold
        _scene(U, Q, p=0.9, iou=0.5),  # wrong, poor mask
        _scene(U, U, p=0.1),  # right, clear
        _scene(N, N),  # right: an empty truck, flagged bed_without_load
    ]
    fig = figures(scenes, ReviewSettings(min_mask_iou=0.8, probability_margin=0.1))
    assert (fig["scenes"], fig["wrong"], fig["accuracy"]) == (5, 2, 0.6)
    assert fig["flagged"] == 3 and fig["flagged_share"] == 0.6
    assert fig["wrong_flagged"] == 2 and fig["wrong_flagged_share"] == 1.0
    assert fig["right_flagged_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert fig["reasons"] == {"bed_without_load": 1, "low_mask_quality": 1, "near_threshold": 1}
    assert figures(scenes, OFF)["flagged"] == 0


def test_the_chosen_settings_catch_the_most_wrong_verdicts_within_the_cap() -> None:
    scenes = [_scene(Q, Q) for _ in range(16)] + [
        _scene(Q, U, p=0.45),
        _scene(U, Q, p=0.9, iou=0.5),
        _scene(N, N),
        _scene(N, N),
    ]
    settings, fig = choose_settings(scenes, max_flagged_share=0.1)
    assert fig["wrong_flagged"] == 2 and fig["flagged"] == 2
    assert not settings.bed_without_load  # the empty trucks would pass the cap
    assert settings.min_mask_iou > 0.5 and settings.probability_margin > 0
    with pytest.raises(ValueError, match="at most 0%"):
        choose_settings(scenes, 0.0, {"bed_without_load": (True,)})


def test_a_served_scene_round_trips_through_json() -> None:
    for scene in (_scene(Q, U, p=0.45), _scene(N, N)):
        back = scene_from_json(json.loads(json.dumps(scene_to_json(scene))))
        assert back.label == scene.label and back.evidence == scene.evidence
        if scene.features is None:
            assert back.features is None
        else:
            np.testing.assert_array_equal(back.features, scene.features)


def test_out_of_fold_judges_every_loaded_scene_with_an_integrator_fitted_on_the_others() -> None:
    rng = np.random.default_rng(0)
    scenes = []
    for i in range(30):
        label = Q if i % 2 else U
        base = _scene(label, U)
        value = 0.8 if label is Q else 0.2
        features = (value + rng.normal(0, 0.05, len(FEATURE_SPEC))).astype(np.float32)
        scenes.append(ScoredScene(base.label, features, base.evidence))
    scenes.append(_scene(N, N))
    # truly "No Mine Detected", but a loaded truck was served: judged, never fitted on
    stray = _scene(N, U)
    scenes.insert(
        0, ScoredScene(stray.label, np.full(len(FEATURE_SPEC), 0.5, np.float32), stray.evidence)
    )
    judged = out_of_fold(scenes, folds=5)
    assert len(judged) == len(scenes)
    assert judged[-1].evidence.verdict is N  # no loaded truck: no verdict to fit
    assert judged[0].evidence.verdict is not N  # judged as any loaded truck
    scenes, judged = scenes[1:], judged[1:]
    right = sum(s.evidence.verdict.value == s.label for s in judged[:-1])
    assert right >= 27, "separable features: the out-of-fold verdicts are nearly all right"
    assert all(0.0 <= s.evidence.probability <= 1.0 for s in judged)


def test_scenes_split_by_style_as_drawn_and_each_style_gets_its_own_figures() -> None:
    styles = ("quarry", "dust")
    scenes = [
        _scene(Q, Q),  # quarry
        _scene(Q, U, p=0.45),  # dust: wrong, near the threshold
        _scene(U, U, p=0.1),  # quarry
        _scene(U, Q, p=0.9, iou=0.5),  # dust: wrong, poor mask
        _scene(N, N),  # quarry
    ]
    split = by_style(scenes, styles)
    assert list(split) == ["quarry", "dust"]
    assert split["quarry"] == [scenes[0], scenes[2], scenes[4]]
    assert split["dust"] == [scenes[1], scenes[3]]
    settings = {"tight": ReviewSettings(min_mask_iou=0.8, probability_margin=0.1), "off": OFF}
    per_style = figures_by_style(scenes, styles, settings)
    assert per_style["quarry"]["tight"]["wrong"] == 0
    assert per_style["dust"]["tight"]["wrong_flagged"] == 2
    assert per_style["dust"]["off"]["flagged"] == 0
    overall = figures(scenes, settings["tight"])
    for key in ("scenes", "wrong", "flagged", "wrong_flagged"):
        assert sum(f["tight"][key] for f in per_style.values()) == overall[key]
    assert by_style(scenes, ("classic",)) == {"classic": scenes}
    with pytest.raises(ValueError, match="at least one style"):
        by_style(scenes, ())


def _styles(module: ModuleType, argv: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parser = module.build_parser()
    return module.styles_of(parser, parser.parse_args(argv))


def test_the_styles_default_to_classic_and_the_test_styles_to_the_fitting_ones(
    benchmark: Callable[[str], ModuleType],
) -> None:
    module = benchmark("review_flags")
    assert _styles(module, []) == (("classic",), ("classic",))
    assert _styles(module, ["--fit-styles", "classic,night"]) == (("classic", "night"),) * 2
    fit, test = _styles(module, ["--fit-styles", "night", "--test-styles", "all"])
    assert fit == ("night",) and test == STYLE_NAMES


def test_served_scenes_are_kept_per_set_of_weights_not_per_folder_name(
    benchmark: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    module = benchmark("review_flags")
    a, b = tmp_path / "a" / "onnx", tmp_path / "b" / "onnx"
    for folder, digest in ((a, "1" * 64), (b, "2" * 64)):
        folder.mkdir(parents=True)
        (folder / "detector.onnx.card.json").write_text(json.dumps({"sha256": digest}))
    assert module._models_key(a) != module._models_key(b)
    (b / "detector.onnx.card.json").write_text((a / "detector.onnx.card.json").read_text())
    assert module._models_key(a) == module._models_key(b)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fit-styles", "sunny"], "--fit-styles"),
        (["--test-styles", "quarry,sunny"], "--test-styles"),
        (["--test-styles", "all,dust"], "--test-styles"),
        (["--test-styles", "quarry,dust", "--test-count", "1"], "--test-count"),
    ],
)
def test_bad_style_options_exit_with_status_two_naming_the_option(
    benchmark: Callable[[str], ModuleType],
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _styles(benchmark("review_flags"), argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _stub_serving(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The benchmark's scenes and serving stubbed: a scene's "photo" names its style; dust
    scenes get features that say the opposite of their label. Returns the drawn scenes."""
    from loadcheck.pipeline.runner import PipelineRunner

    drawn: list[tuple] = []

    def scenes(cache: Path, seed: int, count: int, size: Any, styles: Any) -> Iterator[Any]:
        for i in range(count):
            style = styles[i % len(styles)]
            label = Q if (i // len(styles)) % 2 else U
            drawn.append((seed, i, style))
            yield SimpleNamespace(jpeg=style.encode(), label=label.value)

    def serve(runner: Any, jpeg: bytes, label: str) -> ScoredScene:
        qualified = (label == Q.value) != (jpeg == b"dust")
        p = 0.8 if qualified else 0.2
        base = _scene(Verdict(label), U, p=p)
        return ScoredScene(base.label, np.full(len(FEATURE_SPEC), p, np.float32), base.evidence)

    monkeypatch.setattr(module, "styled_scenes", scenes)
    monkeypatch.setattr(module, "serve_scene", serve)
    monkeypatch.setattr(PipelineRunner, "from_networks", staticmethod(lambda models: None))
    return drawn


@pytest.mark.parametrize(
    ("fit_styles", "test_styles"), [(None, None), ("classic,night", "quarry,dust")]
)
def test_the_benchmark_reports_each_test_style_when_several_are_given(
    benchmark: Callable[[str], ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fit_styles: str | None,
    test_styles: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = benchmark("review_flags")
    drawn = _stub_serving(module, monkeypatch)
    out = tmp_path / "flags.json"
    argv = [
        *("--models", str(tmp_path), "--cache", str(tmp_path / "cache"), "--json", str(out)),
        *("--fit-count", "20", "--test-count", "12", "--size", "320x180", "--no-progress"),
        *("--max-flagged-keeping-checks", "1.0"),
    ]
    argv += ["--fit-styles", fit_styles] if fit_styles else []
    assert module.main(argv + (["--test-styles", test_styles] if test_styles else [])) == 0
    result = json.loads(out.read_text())
    for key in ("test_chosen", "test_chosen_keeping_checks", "test_defaults"):
        assert key in result
    if fit_styles is None:  # the default: classic scenes only, no per-style block
        assert result["fit"] == {"seed": 1, "count": 20, "styles": ["classic"]}
        assert result["test"]["styles"] == ["classic"]
        assert {style for _, _, style in drawn} == {"classic"}
        assert "test_per_style" not in result
        return
    assert result["fit"] == {"seed": 1, "count": 20, "styles": ["classic", "night"]}
    assert [s for seed, _, s in drawn if seed == 1][:3] == ["classic", "night", "classic"]
    assert result["test"]["styles"] == ["quarry", "dust"]
    per_style = result["test_per_style"]
    assert list(per_style) == ["quarry", "dust"]
    assert [per_style[s]["test_chosen"]["scenes"] for s in per_style] == [6, 6]
    assert per_style["quarry"]["test_defaults"]["accuracy"] == 1.0
    assert per_style["dust"]["test_defaults"]["accuracy"] == 0.0  # features say the opposite
    overall = result["test_chosen"]
    for key in ("wrong", "flagged", "wrong_flagged"):
        assert sum(f["test_chosen"][key] for f in per_style.values()) == overall[key]
    printed = capsys.readouterr().out
    assert "test quarry, chosen" in printed and "test dust, defaults" in printed


def test_scenes_unlike_the_fitting_scenes_are_judged_with_their_unusual_features() -> None:
    rng = np.random.default_rng(0)
    fit = []
    for label, centre in ((Q, 0.8), (U, 0.2)):
        for _ in range(20):
            scene = _scene(label, label, p=centre)
            noisy = scene.features + rng.normal(0, 0.02, len(FEATURE_SPEC)).astype(np.float32)
            fit.append(ScoredScene(scene.label, noisy, scene.evidence))
    odd = _scene(Q, Q, p=0.8)
    odd = ScoredScene(odd.label, np.full(len(FEATURE_SPEC), 10.0, np.float32), odd.evidence)
    usual, unusual, empty = fitted_and_judged(fit, [_scene(Q, Q, p=0.8), odd, _scene(N, N)])
    assert usual.evidence.unusual_features == ()
    assert unusual.evidence.unusual_features == FEATURE_SPEC.names
    assert empty.evidence.unusual_features == ()  # no loaded truck: nothing to compare
    again = scene_from_json(json.loads(json.dumps(scene_to_json(unusual))))
    assert again.evidence == unusual.evidence
    fig = figures([usual, unusual], ReviewSettings(min_unusual_features=3))
    assert fig["reasons"].get("unusual_features") == 1
    assert figures([usual, unusual], OFF)["flagged"] == 0
