"""How well "needs review" points at the wrong verdicts (``benchmarks/review_flags.py``).

Scenes are served through the segmentator's own steps in-process
(:class:`~loadcheck.pipeline.runner.PipelineRunner`); each becomes a :class:`ScoredScene`: its
true label, the features of its scored truck and its review evidence
(:class:`~loadcheck.scoring.review.ReviewEvidence`, probability filled in once an integrator
is fitted). :func:`out_of_fold` gives the fitting scenes out-of-fold verdicts (each judged by
an integrator fitted on the other folds), on which :func:`choose_settings` picks the review
thresholds; :func:`figures` then says, on held-out scenes, what share of all photos is flagged
and what share of the wrong verdicts is. Scenes may be drawn from several scene styles (scene
``i`` in ``styles[i % n]``, :func:`loadcheck.evaluation.cross_style.styled_scenes`);
:func:`figures_by_style` gives the figures of each style's scenes.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loadcheck.payloads import Verdict, verdict_from_probability
from loadcheck.scoring.review import FeatureBounds, ReviewEvidence, ReviewSettings, judge_evidence

LABELS = {Verdict.QUALIFIED.value: 1, Verdict.UNQUALIFIED.value: 0}


@dataclass(frozen=True)
class ScoredScene:
    """One served scene.

    Attributes:
        label: the true verdict.
        features: float32 ``[F]`` of the scored truck, or ``None`` when no truck carries load.
        evidence: the review evidence (verdict and probability are set by :func:`judged`).
    """

    label: str
    features: np.ndarray | None
    evidence: ReviewEvidence


def scene_to_json(scene: ScoredScene) -> dict[str, Any]:
    """A served scene as JSON (to keep served scenes between runs)."""
    evidence = dataclasses.asdict(scene.evidence)
    evidence["verdict"] = scene.evidence.verdict.value
    features = None if scene.features is None else [float(v) for v in scene.features]
    return {"label": scene.label, "features": features, "evidence": evidence}


def scene_from_json(data: dict[str, Any]) -> ScoredScene:
    """Inverse of :func:`scene_to_json`."""
    evidence = dict(data["evidence"])
    evidence["verdict"] = Verdict(evidence["verdict"])
    evidence["unusual_features"] = tuple(evidence.get("unusual_features", ()))
    features = data.get("features")
    return ScoredScene(
        str(data["label"]),
        None if features is None else np.asarray(features, np.float32),
        ReviewEvidence(**evidence),
    )


def serve_scene(runner: Any, jpeg: bytes, label: str) -> ScoredScene:
    """Serve one photo through ``runner`` (a segmentator's :class:`PipelineRunner`)."""
    from loadcheck.features.extract import extract_features
    from loadcheck.features.trucks import group_trucks, loaded_trucks

    seg = runner.segment(jpeg)
    trucks = group_trucks(seg.detections, seg.masks)
    loaded = loaded_trucks(trucks)
    features = extract_features(loaded[0]).values if loaded else None
    verdict = Verdict.UNQUALIFIED if loaded else Verdict.NO_MINE_DETECTED
    evidence = ReviewEvidence.of(verdict, 0.0, 0.5, trucks, seg.detections, seg.masks.resolution_wh)
    return ScoredScene(label, features, evidence)


def _fit(scenes: Sequence[ScoredScene]) -> Any:
    from loadcheck.scoring.fit import fit_score_model

    # A "No Mine Detected" scene on which a loaded truck was served has features but no
    # Qualified/Unqualified label: the scorer is not fitted on it (as an integrator's fit).
    pairs = [(LABELS.get(s.label), s.features) for s in scenes if s.features is not None]
    pairs = [(y, f) for y, f in pairs if y in (0, 1)]
    x = np.stack([f for _, f in pairs]).astype(np.float32)
    y = np.array([label for label, _ in pairs])
    return fit_score_model(x, y, cv_folds=0).model


def judged(scenes: Sequence[ScoredScene], model: Any) -> list[ScoredScene]:
    """``scenes`` with the verdict and probability of ``model`` in their evidence, and the
    features outside the range of ``model``'s fitting data."""
    from loadcheck.features.spec import FEATURE_SPEC

    bounds = FeatureBounds.of_metadata(getattr(model, "metadata", None))
    out = []
    for scene in scenes:
        if scene.features is None:
            out.append(scene)
            continue
        p = float(model.predict_proba(scene.features[None])[0])
        verdict = verdict_from_probability(p, model.threshold)
        unusual = () if bounds is None else bounds.outside(FEATURE_SPEC.names, scene.features)
        evidence = dataclasses.replace(
            scene.evidence,
            verdict=verdict,
            probability=p,
            threshold=float(model.threshold),
            unusual_features=unusual,
        )
        out.append(dataclasses.replace(scene, evidence=evidence))
    return out


def fitted_and_judged(fit: Sequence[ScoredScene], test: Sequence[ScoredScene]) -> list[ScoredScene]:
    """``test`` judged by an integrator fitted on all of ``fit`` (loadcheck's defaults)."""
    return judged(test, _fit(fit))


def out_of_fold(scenes: Sequence[ScoredScene], folds: int = 5) -> list[ScoredScene]:
    """Each scene judged by an integrator fitted on the other ``folds - 1`` folds."""
    index = np.arange(len(scenes)) % folds
    out: list[ScoredScene | None] = [None] * len(scenes)
    for fold in range(folds):
        rest = [s for s, f in zip(scenes, index, strict=True) if f != fold]
        mine = [i for i, f in enumerate(index) if f == fold]
        for i, scene in zip(mine, judged([scenes[i] for i in mine], _fit(rest)), strict=True):
            out[i] = scene
    return [s for s in out if s is not None]


def figures(scenes: Sequence[ScoredScene], settings: ReviewSettings) -> dict[str, Any]:
    """Accuracy, the share of photos flagged, the share of wrong verdicts flagged, the share
    of right verdicts flagged and the count of each reason."""
    flags = [judge_evidence(s.evidence, settings) for s in scenes]
    wrong = [s.evidence.verdict.value != s.label for s in scenes]
    flagged = [f.needs_review for f in flags]
    n_wrong = sum(wrong)
    caught = sum(1 for w, f in zip(wrong, flagged, strict=True) if w and f)
    right_flagged = sum(1 for w, f in zip(wrong, flagged, strict=True) if not w and f)
    reasons = Counter(code for f in flags for code in f.codes)
    wrong_reasons = Counter(
        code for f, w in zip(flags, wrong, strict=True) if w for code in f.codes
    )
    n = len(scenes)
    return {
        "scenes": n,
        "accuracy": round(1 - n_wrong / n, 4) if n else None,
        "wrong": n_wrong,
        "flagged": sum(flagged),
        "flagged_share": round(sum(flagged) / n, 4) if n else None,
        "wrong_flagged": caught,
        "wrong_flagged_share": round(caught / n_wrong, 4) if n_wrong else None,
        "right_flagged_share": round(right_flagged / (n - n_wrong), 4) if n > n_wrong else None,
        "reasons": dict(sorted(reasons.items())),
        "reasons_of_wrong": dict(sorted(wrong_reasons.items())),
    }


#: The settings :func:`choose_settings` tries.
GRID: dict[str, tuple[Any, ...]] = {
    "min_detector_confidence": (0.0, 0.3, 0.4, 0.5, 0.6, 0.7),
    "min_mask_iou": (0.0, 0.7, 0.75, 0.8, 0.85, 0.9),
    "probability_margin": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25),
    "frame_margin": (0.0, 0.005, 0.01, 0.02),
    "bed_without_load": (True, False),
    "load_without_bed": (True, False),
    "several_trucks": (True, False),
    "min_unusual_features": (0, 2, 3),
}
#: :data:`GRID` with the checks the project keeps on (a bed without load, a load without bed, a
#: low detector confidence, unusual features: fitting scenes cannot show the last one's worth,
#: it was chosen on scenes of other styles): how
#: :class:`~loadcheck.scoring.review.ReviewSettings`' defaults were chosen (``docs/quality.md``,
#: "Needs review").
GRID_KEEPING_CHECKS: dict[str, tuple[Any, ...]] = {
    **GRID,
    "min_detector_confidence": (0.3, 0.4, 0.5),
    "bed_without_load": (True,),
    "load_without_bed": (True,),
    "min_unusual_features": (3,),
}


def choose_settings(
    scenes: Sequence[ScoredScene],
    max_flagged_share: float = 0.15,
    grid: dict[str, tuple[Any, ...]] | None = None,
) -> tuple[ReviewSettings, dict[str, Any]]:
    """The grid's settings that flag the most wrong verdicts of ``scenes`` while flagging at
    most ``max_flagged_share`` of them (ties: fewer flagged); with their figures."""
    grid = grid or GRID
    keys = list(grid)
    best: tuple[tuple[int, int], ReviewSettings, dict[str, Any]] | None = None
    combos: Iterable[tuple[Any, ...]] = itertools.product(*(grid[k] for k in keys))
    for values in combos:
        settings = ReviewSettings(**dict(zip(keys, values, strict=True)))
        fig = figures(scenes, settings)
        if fig["flagged_share"] is None or fig["flagged_share"] > max_flagged_share:
            continue
        key = (fig["wrong_flagged"], -fig["flagged"])
        if best is None or key > best[0]:
            best = (key, settings, fig)
    if best is None:
        raise ValueError(f"no settings of the grid flag at most {max_flagged_share:.0%}")
    return best[1], best[2]


def by_style(scenes: Sequence[ScoredScene], styles: Sequence[str]) -> dict[str, list[ScoredScene]]:
    """``scenes`` (in the order drawn: scene ``i`` in ``styles[i % n]``) split by style, in the
    order of ``styles``."""
    from loadcheck.synth.styles import scene_style

    if not styles:
        raise ValueError("styles: expected at least one style")
    out: dict[str, list[ScoredScene]] = {style: [] for style in styles}
    for index, scene in enumerate(scenes):
        out[scene_style(index, styles)].append(scene)
    return out


def figures_by_style(
    scenes: Sequence[ScoredScene], styles: Sequence[str], settings: dict[str, ReviewSettings]
) -> dict[str, dict[str, dict[str, Any]]]:
    """For each style of :func:`by_style`, :func:`figures` of its scenes with each named
    settings: ``{style: {name: figures}}``."""
    return {
        style: {name: figures(mine, s) for name, s in settings.items()}
        for style, mine in by_style(scenes, styles).items()
    }
