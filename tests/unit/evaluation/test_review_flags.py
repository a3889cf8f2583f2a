"""The review-flag figures and the choice of settings on served scenes' evidence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loadcheck.evaluation.review_flags import (
    ScoredScene,
    choose_settings,
    figures,
    out_of_fold,
    scene_from_json,
    scene_to_json,
)
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.payloads import Verdict
from loadcheck.scoring.review import ReviewEvidence, ReviewSettings

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


OFF = ReviewSettings(0.0, 0.0, 0.0, 0.0, False, False, False)


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
    judged = out_of_fold(scenes, folds=5)
    assert len(judged) == len(scenes)
    assert judged[-1].evidence.verdict is N  # no loaded truck: no verdict to fit
    right = sum(s.evidence.verdict.value == s.label for s in judged[:-1])
    assert right >= 27, "separable features: the out-of-fold verdicts are nearly all right"
    assert all(0.0 <= s.evidence.probability <= 1.0 for s in judged)
