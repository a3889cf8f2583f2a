"""``benchmarks/eval_demo_models.py``: quality of exported networks on held-out scenes.

:func:`evaluate` serves scenes ``0 .. count-1`` of a seed through the served segmentator
(:class:`~loadcheck.evaluation.served.ServedPipeline`: the pipeline's own steps, networks in
ONNX Runtime) and measures, JSON-ready:

1. detector AP@``iou_match`` per class (``bed``, ``load``) and their mean, all-point
   interpolated, from detections decoded at ``eval_conf``, plus precision / recall at the served
   threshold; truth = every truck's visible bed / load box;
2. SAM mask IoU per class against every truck's true visible mask, prompted (a) with the true
   boxes and (b) with the served detections matched (IoU >= ``iou_match``) to the truth, where
   SAM sees the region the ``prompts`` step chooses for those prompts in each SAM frame (``crop``,
   ``whole``); true objects the detector missed are counted, not scored; and the served boxes'
   precision (:class:`~loadcheck.evaluation.metrics.BoxPrecision`);
3. the load's *fill* as the scorer sees it (:class:`~loadcheck.evaluation.metrics.FillAccumulator`):
   the most prominent served truck's ``fullness`` against the true truck's;
4. the end-to-end verdict accuracy of ``loadcheck demo``'s ``report.json``, if present.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.evaluation.metrics import (
    BoxPrecision,
    ClassAccumulator,
    FillAccumulator,
    iou_summary,
    mask_iou,
    match_detections,
)
from loadcheck.evaluation.report import fmt, machine, progress_bar, read_demo_report
from loadcheck.evaluation.scenes import (
    CLASSES,
    TruthScene,
    load_scene,
    scene_folder,
    true_detections,
)
from loadcheck.evaluation.served import ScenePipeline, kept_at
from loadcheck.payloads import Detections, SegmentationMasks
from loadcheck.pipeline.prompts import SamFrame

SOURCES = ("true_boxes", "detector_boxes")


@dataclass(frozen=True)
class ModelEvaluation:
    """What to measure.

    Attributes:
        models: the export folder (recorded in the JSON).
        seed / count / size_wh: the held-out scenes (seed 9 by default; training uses 0).
        frames: the SAM frames the mask IoU is measured in.
        cache: the rendered scenes' cache folder.
        demo_report: ``loadcheck demo``'s ``report.json`` (its accuracy is copied, if present).
        eval_conf: the decode threshold of the precision-recall curve.
        iou_match: the box IoU of a true positive.
        max_det: detections kept per image at ``eval_conf``.
        progress: show a progress bar.
    """

    models: Path
    seed: int = 9
    count: int = 200
    size_wh: tuple[int, int] = (960, 540)
    frames: tuple[SamFrame, ...] = (SamFrame.CROP, SamFrame.WHOLE)
    cache: Path = Path("runs/eval_cache")
    demo_report: Path | None = None
    eval_conf: float = 0.001
    iou_match: float = 0.5
    max_det: int = 100
    progress: bool = True

    def __post_init__(self) -> None:
        if self.seed < 0 or self.count < 1:
            raise ValueError(f"scenes: expected seed >= 0 and count >= 1, got {self}")
        if not (0.0 < self.eval_conf <= 1.0 and 0.0 < self.iou_match <= 1.0):
            raise ValueError("eval_conf and iou_match must lie in (0, 1]")


class MaskIous:
    """Mask IoUs per (frame, prompt source, class): all trucks, the most prominent truck, and
    the true objects the detector missed."""

    def __init__(self, iou_match: float) -> None:
        self.iou_match = iou_match
        self.all: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        self.primary: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        self.missed: dict[tuple[str, int], int] = defaultdict(int)

    def add(
        self,
        frame: str,
        source: str,
        scene: TruthScene,
        prompts: Detections,
        masks: SegmentationMasks,
    ) -> None:
        """The masks of one prompt set (``true_boxes``: the scene's true boxes in scene order;
        ``detector_boxes``: the served prompts) against the scene's true masks."""
        for c in range(len(CLASSES)):
            truth = scene.boxes[c]
            mine = np.flatnonzero(prompts.class_id == c)
            if source == "true_boxes":
                kept, which = mine, np.arange(len(truth))
            else:
                match = match_detections(
                    prompts.xyxy[mine], prompts.confidence[mine], truth, self.iou_match
                )
                kept, which = mine[match >= 0], match[match >= 0]
                self.missed[(frame, c)] += len(truth) - len(which)
            for k, j in zip(kept, which, strict=True):
                iou = mask_iou(masks.mask_hw[k], scene.masks[c][j])
                self.all[(frame, source, c)].append(iou)
                if scene.trucks[c][j] == 0:
                    self.primary[(frame, source, c)].append(iou)

    def summary(self, frames: tuple[SamFrame, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for frame in frames:
            f = frame.value
            out[f] = {
                s: {
                    name: {
                        **iou_summary(self.all[(f, s, c)]),
                        "primary_truck": iou_summary(self.primary[(f, s, c)]),
                        **(
                            {"missed_by_detector": self.missed[(f, c)]}
                            if s == "detector_boxes"
                            else {}
                        ),
                    }
                    for c, name in enumerate(CLASSES)
                }
                for s in SOURCES
            }
        return out


def evaluate(run: ModelEvaluation, pipeline: ScenePipeline) -> dict[str, Any]:
    """Every figure of the benchmark as a JSON-ready dict (see the module docstring)."""
    from loadcheck.features.trucks import group_trucks

    serving = pipeline.detector
    folder = scene_folder(run.cache, run.seed, run.size_wh)
    acc = [ClassAccumulator(run.iou_match) for _ in CLASSES]
    ious = MaskIous(run.iou_match)
    labels: dict[str, int] = defaultdict(int)
    fill = FillAccumulator()
    box_precision = BoxPrecision(run.iou_match)
    start = time.perf_counter()
    with progress_bar(run.progress) as bar:
        task = bar.add_task("eval (scenes)", total=run.count)
        for index in range(run.count):
            scene = load_scene(folder, run.seed, index, run.size_wh)
            labels[scene.label] += 1
            photo = pipeline.photo(scene.jpeg)
            found = pipeline.detect(photo, conf_thres=run.eval_conf, max_det=run.max_det)
            prompts = kept_at(found, serving.conf_thres)
            for c in range(len(CLASSES)):
                mine = found.of_class(c)
                acc[c].add(mine.xyxy, mine.confidence, scene.boxes[c])
                box_precision.add(c, prompts.of_class(c), scene.boxes[c])
            served = pipeline.segment(photo, prompts, SamFrame.CROP)  # the fill's masks
            trucks = group_trucks(prompts, served)
            fill.add(scene, trucks[0] if trucks else None)
            for frame in run.frames:
                for source, boxes in zip(SOURCES, (true_detections(scene), prompts), strict=True):
                    reuse = source == "detector_boxes" and frame is SamFrame.CROP
                    masks = served if reuse else pipeline.segment(photo, boxes, frame)
                    ious.add(frame.value, source, scene, boxes, masks)
            bar.advance(task)
    elapsed = time.perf_counter() - start

    detector = {name: acc[c].summary(serving.conf_thres) for c, name in enumerate(CLASSES)}
    aps = [d["ap"] for d in detector.values() if d["ap"] is not None]
    return {
        "models": str(run.models),
        "cards": pipeline.card_facts(),
        "seed": run.seed,
        "count": run.count,
        "size_wh": list(run.size_wh),
        "truth_labels": dict(sorted(labels.items())),
        "detector": {
            "map": round(float(np.mean(aps)), 4) if aps else None,
            "per_class": detector,
            "eval_conf_thres": run.eval_conf,
            "serving_conf_thres": serving.conf_thres,
            "nms_iou_thres": serving.iou_thres,
            "max_det": run.max_det,
            "match_iou": run.iou_match,
            "box_precision_at_conf": {
                name: box_precision.summary(c) for c, name in enumerate(CLASSES)
            },
        },
        "masks": {"sam_side": pipeline.sam_side, "mean_iou": ious.summary(run.frames)},
        "fill": fill.summary(),
        "verdict": read_demo_report(run.demo_report),
        "elapsed_s": round(elapsed, 1),
        "machine": machine(),
    }


def format_table(result: dict[str, Any]) -> str:
    """The printed summary of :func:`evaluate`'s result."""
    det = result["detector"]
    lines = [
        f"\nmodels {result['models']} | seed {result['seed']}, {result['count']} scenes at "
        f"{result['size_wh'][0]}x{result['size_wh'][1]} | {result['elapsed_s']} s"
    ]
    ap = f"AP@{det['match_iou']:g}"
    lines.append(f"{'detector':10s} {ap:>7s} {'P@serv':>7s} {'R@serv':>7s} {'n_true':>7s}")
    for name, d in det["per_class"].items():
        lines.append(
            f"{name:10s} {fmt(d['ap']):>7s} {fmt(d['precision_at_conf']):>7s} "
            f"{fmt(d['recall_at_conf']):>7s} {d['n_true']:7d}"
        )
    lines.append(f"{'m' + ap:10s} {fmt(det['map']):>7s}")
    lines.append("served boxes matched to a true box: mean IoU, share >= 0.75, mean edge error")
    for name, b in det["box_precision_at_conf"].items():
        edges = " ".join(f"{e} {fmt(b[e]).strip()}" for e in BoxPrecision.EDGES)
        lines.append(
            f"  {name:8s} IoU {fmt(b['mean_iou']).strip()}, {fmt(b['iou_75']).strip()} | {edges}"
        )
    lines.append(
        f"\nSAM mask IoU (S={result['masks']['sam_side']}): mean (primary truck) [n, missed]"
    )
    for frame, by_source in result["masks"]["mean_iou"].items():
        for source, by_class in by_source.items():
            cells = []
            for name, s in by_class.items():
                miss = f", missed {s['missed_by_detector']}" if "missed_by_detector" in s else ""
                cells.append(
                    f"{name} {fmt(s['mean'])} ({fmt(s['primary_truck']['mean']).strip()}) "
                    f"[{s['n']}{miss}]"
                )
            lines.append(f"  {frame:5s} {source:15s} " + "   ".join(cells))
    fill = result["fill"]
    lines.append(
        f"\nload fill (served vs true 'fullness', most prominent truck, crop, detector prompts): "
        f"MAE {fmt(fill['fullness_mae']).strip()} over {fill['n_loaded']} loaded trucks, "
        f"{fmt(fill['fullness_mae_partial']).strip()} over {fill['n_partial']} partly filled; "
        f"empty trucks left empty {fmt(fill['empty_kept_empty']).strip()} of {fill['n_empty']}"
    )
    verdict = result["verdict"]
    if verdict is None:
        lines.append("\nverdict accuracy: no demo report (run `loadcheck demo`)")
    else:
        lines.append(
            f"\nverdict accuracy (loadcheck demo, {verdict['report']}): {fmt(verdict['accuracy'])}"
            f" (chance {fmt(verdict['chance_accuracy'])}, placeholder models: "
            f"{verdict['placeholder_models']})"
        )
    return "\n".join(lines)
