"""``benchmarks/cross_style.py``: leave-one-style-out quality of the served segmentator.

For each :class:`Fold` (a scene style held out, and the exported networks trained without it)
:func:`evaluate` serves held-out scenes of that style through the served segmentator's own steps
(:class:`~loadcheck.evaluation.served.ServedPipeline`) and reports, JSON-ready:

* **verdict accuracy** with its 95 % Wilson interval: an integrator with loadcheck's defaults is
  fitted on the served features of fitting scenes of the fold's *training* styles (scene ``i`` in
  ``train_styles[i % n]``, as ``loadcheck synth --style`` writes them) and tested on the held-out
  style's scenes (:func:`loadcheck.evaluation.oracles.verdicts_right`); the same with the true
  masks of the scored truck (``true_masks``: what the networks cost);
* **detector recall** (and precision) per class at the served threshold, a true box found when a
  served detection of its class overlaps it with IoU >= ``iou_match``;
* **mask IoU** per class of the served masks of the matched detections against the true visible
  masks (:class:`~loadcheck.evaluation.model_quality.MaskIous`; the masks serving scores, in the
  served SAM frame, recorded under the ``crop`` key that is serving's default frame).

A fold whose ``train_styles`` is its own held-out style is an *in-style* check (one models folder
tested on the styles it was trained on). The headline is the worst fold's served accuracy.
:func:`styled_scenes` (scene ``i`` in :func:`loadcheck.synth.styles.scene_style`) also gives
``benchmarks/review_flags.py`` its scenes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadcheck.evaluation.metrics import ClassAccumulator
from loadcheck.evaluation.model_quality import MaskIous
from loadcheck.evaluation.oracles import (
    SceneVersions,
    of_version,
    oracle_prompts,
    score_versions,
    verdicts_right,
    versions_of,
)
from loadcheck.evaluation.report import machine, progress_bar
from loadcheck.evaluation.scenes import CLASSES, TruthScene, load_scene, scene_folder
from loadcheck.evaluation.served import ScenePipeline
from loadcheck.evaluation.significance import accuracy_summary
from loadcheck.pipeline.prompts import SamFrame
from loadcheck.synth.styles import scene_style


@dataclass(frozen=True)
class Fold:
    """One fold: networks (an export folder) tested on the style ``held_out``.

    Attributes:
        held_out: the style tested.
        models: the export folder (ONNX + cards) of networks trained without ``held_out`` (or,
            in-style, with it).
        train_styles: the styles the integrator is fitted on (the networks' training styles).
    """

    held_out: str
    models: Path
    train_styles: tuple[str, ...]

    def __post_init__(self) -> None:
        from loadcheck.synth.styles import STYLES

        unknown = [s for s in (self.held_out, *self.train_styles) if s not in STYLES]
        if unknown or not self.train_styles:
            raise ValueError(
                f"fold {self.held_out}: unknown styles {unknown or list(self.train_styles)}; "
                f"expected names from {list(STYLES)}"
            )

    @property
    def in_style(self) -> bool:
        return self.train_styles == (self.held_out,)


def leave_one_out(held_out: str, models: Path) -> Fold:
    """The fold that tests ``held_out`` with networks trained on every other style."""
    from loadcheck.synth.styles import STYLE_NAMES

    return Fold(held_out, models, tuple(s for s in STYLE_NAMES if s != held_out))


@dataclass(frozen=True)
class CrossStyleRun:
    """What to serve.

    Attributes:
        folds: the folds, in report order.
        fit_seed / fit_count: the integrator's fitting scenes (in each fold's training styles).
        test_seed / test_count: the held-out scenes of each fold's style.
        size_wh: the scenes' size in pixels.
        iou_match: the box IoU of a found true box.
        cache: the rendered scenes' cache folder.
        progress: show a progress bar.
    """

    folds: tuple[Fold, ...]
    fit_seed: int = 1
    fit_count: int = 400
    test_seed: int = 2
    test_count: int = 200
    size_wh: tuple[int, int] = (960, 540)
    iou_match: float = 0.5
    cache: Path = Path("runs/eval_cache")
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.folds:
            raise ValueError("folds: expected at least one fold")
        if self.fit_seed == self.test_seed:
            raise ValueError("test seed must differ from the fitting seed (held-out scenes)")
        if self.fit_count < 1 or self.test_count < 1:
            raise ValueError("fit and test counts must be >= 1")


@dataclass
class _StyleScores:
    """Detector and mask figures of the scenes of one fold's held-out style."""

    iou_match: float
    detector: list[ClassAccumulator] = field(default_factory=list)
    ious: MaskIous | None = None

    def __post_init__(self) -> None:
        self.detector = [ClassAccumulator(self.iou_match) for _ in CLASSES]
        self.ious = MaskIous(self.iou_match)


def serve_scene(
    pipeline: ScenePipeline, scene: TruthScene, scores: _StyleScores | None = None
) -> SceneVersions:
    """(true label, scored versions) of one scene served as served; with ``scores``, its
    detections and masks are added to them."""
    from loadcheck.features.trucks import group_trucks, scored_truck

    photo = pipeline.photo(scene.jpeg)
    prompts = oracle_prompts(pipeline.detect(photo), scene, "detector")
    masks = pipeline.segment(photo, prompts)
    if scores is not None:
        for c in range(len(CLASSES)):
            mine = prompts.of_class(c)
            scores.detector[c].add(mine.xyxy, mine.confidence, scene.boxes[c])
        assert scores.ious is not None
        scores.ious.add(SamFrame.CROP.value, "detector_boxes", scene, prompts, masks)
    versions = versions_of(scored_truck(group_trucks(prompts, masks)), scene)
    w, h = photo.image_wh
    return scene.label, score_versions(versions, (h, w))


def styled_scenes(
    cache: Path, seed: int, count: int, size_wh: tuple[int, int], styles: Sequence[str]
) -> Iterator[TruthScene]:
    """Scenes ``0 .. count-1`` of ``seed``, scene ``i`` in ``scene_style(i, styles)``,
    each from its style's cache folder (:func:`~loadcheck.evaluation.scenes.scene_folder`;
    rendered and cached if absent), one at a time."""
    folders = {s: scene_folder(cache, seed, size_wh, s) for s in styles}
    for index in range(count):
        style = scene_style(index, styles)
        yield load_scene(folders[style], seed, index, size_wh, style)


def evaluate_fold(
    run: CrossStyleRun,
    fold: Fold,
    pipeline: ScenePipeline,
    bar: Any,
    fitted: dict[tuple[Path, tuple[str, ...]], list[SceneVersions]] | None = None,
) -> dict[str, Any]:
    """Every figure of one fold (see the module docstring); ``fitted``: served fitting scenes
    by (models, training styles), reused and filled."""
    start = time.perf_counter()
    fitted = {} if fitted is None else fitted
    key = (fold.models, fold.train_styles)
    fit_total = 0 if key in fitted else run.fit_count
    task = bar.add_task(f"{fold.held_out}", total=run.test_count + fit_total)
    if key not in fitted:
        rows = []
        for scene in styled_scenes(
            run.cache, run.fit_seed, run.fit_count, run.size_wh, fold.train_styles
        ):
            rows.append(serve_scene(pipeline, scene))
            bar.advance(task)
        fitted[key] = rows
    fit = fitted[key]
    scores = _StyleScores(run.iou_match)
    test: list[SceneVersions] = []
    for scene in styled_scenes(
        run.cache, run.test_seed, run.test_count, run.size_wh, (fold.held_out,)
    ):
        test.append(serve_scene(pipeline, scene, scores))
        bar.advance(task)
    served = verdicts_right(of_version(fit, "served"), of_version(test, "served"))
    true_masks = verdicts_right(of_version(fit, "true_both"), of_version(test, "true_both"))
    conf = pipeline.detector.conf_thres
    assert scores.ious is not None
    ious = scores.ious.summary((SamFrame.CROP,))[SamFrame.CROP.value]["detector_boxes"]
    labels = Counter(label for label, _ in test)
    return {
        "held_out": fold.held_out,
        "models": str(fold.models),
        "train_styles": list(fold.train_styles),
        "in_style": fold.in_style,
        "cards": pipeline.card_facts(),
        "truth_labels": dict(sorted(labels.items())),
        "accuracy": accuracy_summary(served),
        "accuracy_true_masks": accuracy_summary(true_masks),
        "detector": {
            name: acc.summary(conf) for name, acc in zip(CLASSES, scores.detector, strict=True)
        },
        "mask_iou": ious,
        "served_right": [int(flag) for flag in served],
        "elapsed_s": round(time.perf_counter() - start, 1),
    }


def evaluate(run: CrossStyleRun, open_pipeline: Callable[[Path], ScenePipeline]) -> dict[str, Any]:
    """Every fold's figures and the headline (worst fold's served accuracy), JSON-ready;
    ``open_pipeline(models)`` gives each fold's served segmentator (opened once per folder).
    Folds with the same models and training styles share their served fitting scenes."""
    folds = []
    pipelines: dict[Path, ScenePipeline] = {}
    fitted: dict[tuple[Path, tuple[str, ...]], list[SceneVersions]] = {}
    with progress_bar(run.progress) as bar:
        for fold in run.folds:
            if fold.models not in pipelines:
                pipelines[fold.models] = open_pipeline(fold.models)
            folds.append(evaluate_fold(run, fold, pipelines[fold.models], bar, fitted))
    accuracies = [f["accuracy"]["accuracy"] for f in folds]
    return {
        "fit": {"seed": run.fit_seed, "count": run.fit_count},
        "test": {"seed": run.test_seed, "count": run.test_count},
        "size_wh": list(run.size_wh),
        "iou_match": run.iou_match,
        "folds": folds,
        "worst_accuracy": min(accuracies),
        "mean_accuracy": round(sum(accuracies) / len(accuracies), 4),
        "machine": machine(),
    }


def _cell(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def format_table(result: dict[str, Any]) -> str:
    """The printed summary of :func:`evaluate`'s result: one row per fold."""
    lines = [
        f"leave-one-style-out: {result['test']['count']} scenes of seed {result['test']['seed']} "
        f"per held-out style; integrators fitted on {result['fit']['count']} scenes of seed "
        f"{result['fit']['seed']} in the training styles",
        f"  {'tested':<10} {'fitted on':<26} {'accuracy':>8}  {'95 % interval':<13} "
        f"{'true masks':>10} {'bed R':>6} {'load R':>6} {'bed IoU':>7} {'load IoU':>8}",
    ]
    for f in result["folds"]:
        low, high = f["accuracy"]["ci95"]
        trained = "(same style)" if f["in_style"] else ",".join(f["train_styles"])
        lines.append(
            f"  {f['held_out']:<10} {trained:<26} {f['accuracy']['accuracy']:>8.3f}  "
            f"{low:.3f} - {high:.3f} {f['accuracy_true_masks']['accuracy']:>10.3f} "
            f"{_cell(f['detector']['bed']['recall_at_conf']):>6} "
            f"{_cell(f['detector']['load']['recall_at_conf']):>6} "
            f"{_cell(f['mask_iou']['bed']['mean']):>7} {_cell(f['mask_iou']['load']['mean']):>8}"
        )
    lines.append(
        f"worst fold {result['worst_accuracy']:.3f}, mean {result['mean_accuracy']:.3f} "
        "(served verdict accuracy)"
    )
    return "\n".join(lines)
