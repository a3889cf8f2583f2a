"""Which mask costs the verdicts: versions of the scored truck with true masks swapped in.

Each scene is served (:mod:`loadcheck.evaluation.served`); the truck serving scores
(:func:`loadcheck.features.trucks.scored_truck`) is paired with the true truck whose bed mask
overlaps its bed mask most (:func:`true_masks_of`), and four versions of it are scored
(:func:`versions_of`):

* ``served``: its served bed and load masks (what ``loadcheck demo`` scores);
* ``true_bed``: the true bed mask with the served load mask;
* ``true_load``: the served bed mask with the true load mask;
* ``true_both``: both true masks (the detector's choice of truck and SAM's box still served).

For each version an integrator with loadcheck's defaults (XGBoost, ``scoring.fit``) is fitted on
the fitting scenes' versions (Qualified / Unqualified photos, as ``loadcheck demo`` fits) and
tested on the test scenes (:func:`verdicts_right`): "No Mine Detected" when the version carries
no load (:func:`loadcheck.features.trucks.is_loaded`), else the integrator's verdict.

SAM's prompts may come from elsewhere than the detector (:func:`oracle_prompts`): ``detector``
(as served), ``true-boxes`` (each detection matched to a true box, same class and IoU >= 0.5,
replaced by that box; misses and false positives kept) or ``truth`` (every true box, nothing
else).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.evaluation.metrics import match_detections
from loadcheck.evaluation.scenes import TruthScene, load_scene, scene_folder, true_prompts
from loadcheck.evaluation.served import ScenePipeline, served_trucks
from loadcheck.evaluation.significance import accuracy_summary
from loadcheck.payloads import Detections, TruckMasks, Verdict

VERSIONS = ("served", "true_bed", "true_load", "true_both")
PROMPT_SOURCES = ("detector", "true-boxes", "truth")
LABELS = {Verdict.QUALIFIED.value: 1, Verdict.UNQUALIFIED.value: 0}


@dataclass(frozen=True)
class ScoredVersion:
    """One version of a scene's scored truck: whether it carries load, and its features
    (float32 ``[F]``, :data:`loadcheck.features.spec.FEATURE_SPEC` order)."""

    loaded: bool
    features: np.ndarray


#: A scene's true verdict and its scored versions by name.
SceneVersions = tuple[str, dict[str, ScoredVersion]]


def true_masks_of(scene: TruthScene, bed_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The true ``(bed, load)`` masks of the truck whose bed overlaps ``bed_mask`` most (IoU);
    the load is all False for an empty truck. ``None`` when no true bed overlaps it."""
    beds = scene.masks[0]
    if not len(beds):
        return None
    inter = (beds & bed_mask[None]).sum(axis=(1, 2))
    union = (beds | bed_mask[None]).sum(axis=(1, 2))
    iou = inter / np.maximum(union, 1)
    best = int(np.argmax(iou))
    if iou[best] <= 0:
        return None
    truck = scene.trucks[0][best]
    loads = np.flatnonzero(scene.trucks[1] == truck)
    load = scene.masks[1][loads[0]] if len(loads) else np.zeros_like(bed_mask)
    return beds[best], load


def versions_of(truck: TruckMasks | None, scene: TruthScene) -> dict[str, TruckMasks | None]:
    """The four versions of the scored truck (see the module docstring); ``None`` where serving
    found no truck. A served truck no true bed overlaps keeps its served masks in every version."""
    if truck is None:
        return dict.fromkeys(VERSIONS)
    truth = true_masks_of(scene, truck.bed_mask)
    if truth is None:
        return dict.fromkeys(VERSIONS, truck)
    bed, load = truth
    return {
        "served": truck,
        "true_bed": replace(truck, bed_mask=bed),
        "true_load": replace(truck, load_mask=load),
        "true_both": replace(truck, bed_mask=bed, load_mask=load),
    }


def score_versions(
    versions: dict[str, TruckMasks | None], shape_hw: tuple[int, int]
) -> dict[str, ScoredVersion]:
    """Features of each version; no truck scores as an empty frame (as fitting does)."""
    from loadcheck.features.extract import extract_features
    from loadcheck.features.trucks import empty_truck, is_loaded

    out = {}
    for name, truck in versions.items():
        if truck is None:
            truck = empty_truck(shape_hw[1], shape_hw[0])
        out[name] = ScoredVersion(is_loaded(truck), extract_features(truck).values)
    return out


def oracle_prompts(found: Detections, scene: TruthScene, source: str) -> Detections:
    """The prompts SAM gets for prompt source ``source`` (:data:`PROMPT_SOURCES`, see the module
    docstring), beds then loads as ``select_prompts`` orders them; ``found`` are the served
    detections."""
    from loadcheck.pipeline.prompts import select_prompts

    if source not in PROMPT_SOURCES:
        raise ValueError(f"prompt source: expected one of {PROMPT_SOURCES}, got {source!r}")
    if source == "detector":
        return found
    if source == "truth":
        return true_prompts(scene)
    xyxy = found.xyxy.copy()
    for c, truth in enumerate(scene.boxes):
        mine = np.flatnonzero(found.class_id == c)
        match = match_detections(found.xyxy[mine], found.confidence[mine], truth)
        hit = match >= 0
        xyxy[mine[hit]] = truth[match[hit]]
    return select_prompts(Detections(xyxy, found.confidence, found.class_id))


def serve_scenes(
    pipeline: ScenePipeline,
    cache: Path,
    seed: int,
    count: int,
    size_wh: tuple[int, int],
    prompts_from: str = "detector",
    *,
    progress: Any = None,
) -> list[SceneVersions]:
    """(true label, scored versions) of scenes ``0 .. count-1`` of ``seed``, served at the
    served thresholds with SAM prompted from ``prompts_from``; ``progress``: a ``rich``
    ``Progress`` to advance, if any."""
    from loadcheck.features.trucks import scored_truck

    folder = scene_folder(cache, seed, size_wh)
    task = progress.add_task(f"seed {seed}", total=count) if progress is not None else None
    rows = []
    for index in range(count):
        scene = load_scene(folder, seed, index, size_wh)
        photo = pipeline.photo(scene.jpeg)
        prompts = oracle_prompts(pipeline.detect(photo), scene, prompts_from)
        versions = versions_of(scored_truck(served_trucks(pipeline, photo, prompts)), scene)
        w, h = photo.image_wh
        rows.append((scene.label, score_versions(versions, (h, w))))
        if progress is not None:
            progress.advance(task)
    return rows


def verdicts_right(
    fit: Sequence[tuple[str, ScoredVersion]], test: Sequence[tuple[str, ScoredVersion]]
) -> list[bool]:
    """Fit an integrator (loadcheck defaults) on ``fit`` (label, version); whether each ``test``
    scene's verdict is right.

    Raises:
        FitError: ``fit`` holds too few Qualified / Unqualified scenes to fit on.
    """
    from loadcheck.scoring.fit import fit_score_model

    pairs = [(LABELS[label], v.features) for label, v in fit if label in LABELS]
    x = np.stack([f for _, f in pairs]).astype(np.float32) if pairs else np.zeros((0, 0))
    y = np.array([label for label, _ in pairs])
    model = fit_score_model(x, y, cv_folds=0).model
    right = []
    for label, version in test:
        if not version.loaded:
            verdict = Verdict.NO_MINE_DETECTED.value
        elif model.predict(version.features[None])[0]:
            verdict = Verdict.QUALIFIED.value
        else:
            verdict = Verdict.UNQUALIFIED.value
        right.append(verdict == label)
    return right


def accuracy_of(
    fit: Sequence[tuple[str, ScoredVersion]], test: Sequence[tuple[str, ScoredVersion]]
) -> dict[str, Any]:
    """Fit an integrator (loadcheck defaults) on ``fit``, test on ``test``: accuracy and its
    95 % Wilson interval."""
    return accuracy_summary(verdicts_right(fit, test))


def of_version(rows: Sequence[SceneVersions], version: str) -> list[tuple[str, ScoredVersion]]:
    """(label, scored version ``version``) of each scene."""
    return [(label, versions[version]) for label, versions in rows]


def curve_point(
    fit: Sequence[SceneVersions], test: Sequence[SceneVersions], version: str
) -> float | None:
    """Accuracy of ``version`` fitted on ``fit``; ``None`` when ``fit`` holds too few Qualified
    or Unqualified scenes (no integrator can be fitted)."""
    from loadcheck.scoring.fit import FitError

    try:
        return float(accuracy_of(of_version(fit, version), of_version(test, version))["accuracy"])
    except FitError:
        return None
