"""Quality metrics of the detector and SAM against known truth, and their accumulators.

Used by :mod:`loadcheck.evaluation.model_quality` (``benchmarks/eval_demo_models.py``). Boxes are
float ``[N, 4]`` ``x1, y1, x2, y2`` in pixels (pixel edges, so ``x2 - x1`` is the width); masks
are bool or 0/1 ``[H, W]``.

Average precision (AP) is the VOC 2010+ / COCO definition at one IoU threshold:

* per image and class, detections are taken in decreasing score order; each is matched to the
  not-yet-matched true box it overlaps most, when that IoU is ``>= iou_thres`` (a true positive),
  else it is a false positive (:func:`match_detections`);
* over the whole set, the detections of a class are sorted by score, cumulative precision and
  recall are computed, precision is made monotone (``p(r) = max p(r' >= r)``) and integrated over
  every recall step, "all-point interpolation" (:func:`average_precision`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from loadcheck.payloads import Detections, TruckMasks

if TYPE_CHECKING:
    from loadcheck.evaluation.scenes import TruthScene


def _boxes(xyxy: np.ndarray | Sequence[Sequence[float]], what: str) -> np.ndarray:
    out = np.asarray(xyxy, np.float64)
    if out.size == 0:
        return out.reshape(0, 4)
    if out.ndim != 2 or out.shape[1] != 4:
        raise ValueError(
            f"{what}: expected boxes of shape [N, 4] (x1, y1, x2, y2), got {out.shape}"
        )
    return out


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """float64 ``[N, M]`` IoU of each box of ``a`` (``[N, 4]``) with each box of ``b`` (``[M, 4]``).

    Degenerate boxes (zero or negative width/height) have IoU 0 with everything.
    """
    a, b = _boxes(a_xyxy, "a_xyxy"), _boxes(b_xyxy, "b_xyxy")
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_detections(
    pred_xyxy: np.ndarray,
    pred_scores: np.ndarray,
    true_xyxy: np.ndarray,
    iou_thres: float = 0.5,
) -> np.ndarray:
    """Greedy matching of one image's detections of one class to its true boxes.

    Args:
        pred_xyxy: float ``[N, 4]`` detected boxes.
        pred_scores: float ``[N]`` their confidences.
        true_xyxy: float ``[M, 4]`` true boxes.
        iou_thres: minimum IoU of a match, in (0, 1].

    Returns:
        int64 ``[N]``: for each detection (input order), the index of the true box it matched, or
        ``-1`` (a false positive). Each true box is matched at most once, by the highest-scoring
        detection that reaches ``iou_thres`` with it while it is still free.
    """
    pred = _boxes(pred_xyxy, "pred_xyxy")
    scores = np.asarray(pred_scores, np.float64).reshape(-1)
    if len(scores) != len(pred):
        raise ValueError(f"pred_scores: expected {len(pred)} scores, got {len(scores)}")
    if not 0.0 < iou_thres <= 1.0:
        raise ValueError(f"iou_thres: expected a value in (0, 1], got {iou_thres}")
    truth = _boxes(true_xyxy, "true_xyxy")
    matched = np.full(len(pred), -1, np.int64)
    if not len(pred) or not len(truth):
        return matched
    iou = box_iou(pred, truth)
    free = np.ones(len(truth), bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(free, iou[i], -1.0)
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_thres:
            matched[i] = j
            free[j] = False
    return matched


def average_precision(scores: np.ndarray, is_tp: np.ndarray, n_true: int) -> float:
    """All-point interpolated AP of a set of scored detections of one class.

    Args:
        scores: float ``[N]`` confidences of every detection over the whole set.
        is_tp: bool ``[N]`` whether each detection matched a true box (:func:`match_detections`).
        n_true: number of true boxes of the class over the whole set (>= 1).

    Returns:
        AP in [0, 1]; 0 when there is no detection.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    tp = np.asarray(is_tp, bool).reshape(-1)
    if len(s) != len(tp):
        raise ValueError(f"is_tp: expected {len(s)} flags (one per score), got {len(tp)}")
    if n_true < 1:
        raise ValueError(f"n_true: AP needs at least one true box, got {n_true}")
    if int(tp.sum()) > n_true:
        raise ValueError(f"is_tp has {int(tp.sum())} true positives but n_true is {n_true}")
    if not len(s):
        return 0.0
    order = np.argsort(-s, kind="stable")
    cum_tp = np.cumsum(tp[order])
    cum_fp = np.cumsum(~tp[order])
    recall = cum_tp / n_true
    precision = cum_tp / (cum_tp + cum_fp)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def mask_iou(pred_mask: np.ndarray, true_mask: np.ndarray) -> float:
    """IoU of two ``[H, W]`` masks (bool or 0/1); 1.0 when both are empty."""
    pred, truth = np.asarray(pred_mask).astype(bool), np.asarray(true_mask).astype(bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in shape: predicted {pred.shape}, true {truth.shape}")
    union = int(np.count_nonzero(pred | truth))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & truth)) / union


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def iou_summary(values: Sequence[float] | np.ndarray) -> dict[str, float | int | None]:
    """``{"n", "mean", "median"}`` of a list of IoUs, rounded to 4 digits; ``None`` when empty."""
    arr = np.asarray(values, np.float64).reshape(-1)
    if not len(arr):
        return {"n": 0, "mean": None, "median": None}
    return {"n": len(arr), "mean": _round(arr.mean()), "median": _round(np.median(arr))}


@dataclass
class ClassAccumulator:
    """Detections of one class gathered image by image, for AP and precision/recall.

    Feed each image with :meth:`add`; read :meth:`ap` and :meth:`precision_recall` at the end.
    """

    iou_thres: float = 0.5
    n_true: int = 0
    scores: list[np.ndarray] = field(default_factory=list)
    is_tp: list[np.ndarray] = field(default_factory=list)

    def add(self, pred_xyxy: np.ndarray, pred_scores: np.ndarray, true_xyxy: np.ndarray) -> None:
        """Match one image's detections (``[N, 4]``, ``[N]``) to its true boxes (``[M, 4]``)."""
        matched = match_detections(pred_xyxy, pred_scores, true_xyxy, self.iou_thres)
        self.n_true += len(_boxes(true_xyxy, "true_xyxy"))
        self.scores.append(np.asarray(pred_scores, np.float64).reshape(-1))
        self.is_tp.append(matched >= 0)

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.scores:
            return np.zeros(0), np.zeros(0, bool)
        return np.concatenate(self.scores), np.concatenate(self.is_tp)

    @property
    def n_detections(self) -> int:
        return sum(len(s) for s in self.scores)

    def ap(self) -> float | None:
        """AP at ``iou_thres``; ``None`` when the set holds no true box of the class."""
        if self.n_true == 0:
            return None
        scores, tp = self._all()
        return average_precision(scores, tp, self.n_true)

    def precision_recall(self, conf_thres: float) -> tuple[float | None, float | None]:
        """(precision, recall) of the detections with score ``>= conf_thres``; ``None`` where
        undefined (no such detection / no true box)."""
        scores, tp = self._all()
        kept = scores >= conf_thres
        n_tp = int(np.count_nonzero(tp & kept))
        n_kept = int(np.count_nonzero(kept))
        precision = n_tp / n_kept if n_kept else None
        recall = n_tp / self.n_true if self.n_true else None
        return precision, recall

    def summary(self, conf_thres: float) -> dict[str, float | int | None]:
        """AP (at ``iou_thres``), counts and precision / recall at ``conf_thres``, JSON-ready."""
        precision, recall = self.precision_recall(conf_thres)
        return {
            "ap": _round(self.ap()),
            "n_true": self.n_true,
            "n_detections": self.n_detections,
            "precision_at_conf": _round(precision),
            "recall_at_conf": _round(recall),
        }


class BoxPrecision:
    """Per class: how close the served boxes matched to a true box are to it (box IoU, and the
    error of each edge in true box widths / heights)."""

    EDGES = ("left", "top", "right", "bottom")

    def __init__(self, iou_match: float) -> None:
        self.iou_match = iou_match
        self.ious: dict[int, list[float]] = defaultdict(list)
        self.errors: dict[int, list[np.ndarray]] = defaultdict(list)

    def add(self, class_id: int, found: Detections, truth: np.ndarray) -> None:
        """One image's served boxes of ``class_id`` against its true boxes ``[M, 4]``."""
        match = match_detections(found.xyxy, found.confidence, truth, self.iou_match)
        hit = np.flatnonzero(match >= 0)
        if not len(hit):
            return
        pred = found.xyxy[hit].astype(np.float64)
        true = np.asarray(truth, np.float64)[match[hit]]
        w = np.maximum(true[:, 2] - true[:, 0], 1.0)
        h = np.maximum(true[:, 3] - true[:, 1], 1.0)
        self.errors[class_id].extend(np.abs(pred - true) / np.stack([w, h, w, h], axis=1))
        self.ious[class_id].extend(np.diag(box_iou(pred, true)).tolist())

    def summary(self, class_id: int) -> dict[str, Any]:
        """``n``, ``mean_iou``, ``iou_75`` (share >= 0.75) and the mean error of each edge."""
        ious = np.asarray(self.ious[class_id])
        if not len(ious):
            return {"n": 0, "mean_iou": None, "iou_75": None, **dict.fromkeys(self.EDGES)}
        errors = np.mean(self.errors[class_id], axis=0)
        return {
            "n": len(ious),
            "mean_iou": round(float(ious.mean()), 4),
            "iou_75": round(float(np.mean(ious >= 0.75)), 4),
            **{edge: round(float(e), 4) for edge, e in zip(self.EDGES, errors, strict=True)},
        }


class FillAccumulator:
    """Served vs true ``fullness`` of the most prominent truck, and empty trucks kept empty."""

    PARTIAL = 0.95

    def __init__(self) -> None:
        self.errors: list[float] = []
        self.partial: list[float] = []
        self.empty_clean: list[bool] = []

    def add(self, scene: TruthScene, served: TruckMasks | None) -> None:
        """The scene's most prominent true truck against the most prominent served one
        (``None``: no bed was served)."""
        from loadcheck.features.extract import extract_features

        beds = np.flatnonzero(scene.trucks[0] == 0)
        if not len(beds):
            return
        loads = np.flatnonzero(scene.trucks[1] == 0)
        if not len(loads):
            self.empty_clean.append(served is None or not served.load_mask.any())
            return
        bed_xyxy = scene.boxes[0][beds[0]]
        load_xyxy = scene.boxes[1][loads[0]]
        truth = TruckMasks(
            scene.masks[0][beds[0]],
            scene.masks[1][loads[0]],
            (float(bed_xyxy[0]), float(bed_xyxy[1]), float(bed_xyxy[2]), float(bed_xyxy[3])),
            (float(load_xyxy[0]), float(load_xyxy[1]), float(load_xyxy[2]), float(load_xyxy[3])),
        )
        want = extract_features(truth).as_dict()["fullness"]
        got = extract_features(served).as_dict()["fullness"] if served is not None else 0.0
        self.errors.append(abs(got - want))
        if want < self.PARTIAL:
            self.partial.append(abs(got - want))

    def summary(self) -> dict[str, Any]:
        """Mean absolute fullness errors (all loaded, partly filled) and the empty trucks' share
        left without load pixels, with their counts."""

        def mean(values: Sequence[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        return {
            "fullness_mae": mean(self.errors),
            "fullness_mae_partial": mean(self.partial),
            "n_loaded": len(self.errors),
            "n_partial": len(self.partial),
            "partial_below": self.PARTIAL,
            "empty_kept_empty": mean([float(v) for v in self.empty_clean]),
            "n_empty": len(self.empty_clean),
        }
