"""What the Integrators page plots: cross-validated ROC, feature importance, per-class feature
distributions, and the test of a fitted version on a zip of images (optionally labelled).

All numbers come from the workspace (cached features of the fitting images, keyed by the
mask source the version was fitted with) and the fitted artifacts; nothing is recomputed from
images except in :func:`evaluate_images`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.errors import IngestError, IntegratorError
from loadcheck.integrators.fitting import cached_features
from loadcheck.integrators.ingest import ArchiveImage
from loadcheck.integrators.mask_sources import MaskSource
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import (
    VERDICTS,
    Detections,
    InspectionResult,
    SegmentationMasks,
    TruckMasks,
    Verdict,
)
from loadcheck.scoring.fit import stratified_folds
from loadcheck.scoring.model import ScoreModel


@dataclass(frozen=True)
class TrainingFeatures:
    """Features of the fitting images as the version's mask source gave them.

    ``x`` float32 ``[N, F]`` in :data:`FEATURE_SPEC` order, ``y`` int ``[N]`` (1 = Qualified),
    ``names`` the images' original names; images without cached features are left out
    (``missing`` counts them).
    """

    x: np.ndarray
    y: np.ndarray
    names: list[str]
    missing: int


def training_features(store: IntegratorStore, name: str, config_key: str) -> TrainingFeatures:
    rows = store.samples(name)
    cached = cached_features(store, config_key)
    kept = [r for r in rows if r["sha256"] in cached]
    x = np.array([cached[r["sha256"]] for r in kept], np.float32).reshape(-1, len(FEATURE_SPEC))
    y = np.array([int(r["label"]) for r in kept], np.int64)
    return TrainingFeatures(x, y, [str(r["original_name"]) for r in kept], len(rows) - len(kept))


def cv_probabilities(x: np.ndarray, y: np.ndarray, model: ScoreModel, folds: int = 5) -> np.ndarray:
    """float32 ``[N]`` out-of-fold probabilities of Qualified, refitting ``model``'s settings
    (type, hyper-parameters, feature settings) on each stratified fold."""
    from loadcheck.scoring.fit import fit_score_model
    from loadcheck.scoring.settings import features_from_json

    meta = model.metadata
    k = min(folds, int(y.sum()), int(len(y) - y.sum()))
    if k < 2:
        raise IntegratorError("a ROC curve needs at least 2 fitting images of each class")
    params = dict(meta.get("hyper_parameters", {}))
    fold = stratified_folds(y, k, int(params.get("seed", 0)))
    out = np.zeros(len(y), np.float32)
    for f in range(k):
        test = fold == f
        fitted = fit_score_model(
            x[~test],
            y[~test],
            model_type=str(meta.get("model_type", "xgboost")),
            params=params,
            feature_settings=features_from_json(meta.get("feature_settings", {})),
            threshold=model.threshold,
            cv_folds=0,
        )
        out[test] = fitted.model.predict_proba(x[test])
    return out


def roc_curve(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False- and true-positive rates (float64 ``[M]``, from (0, 0) to (1, 1)) and the AUC."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(proba, np.float64), kind="stable")
    scores = np.asarray(proba, np.float64)[order]
    hits = y[order]
    distinct = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(hits)[distinct]
    fps = (distinct + 1) - tps
    pos, neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    return fpr, tpr, float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def feature_importance(model: ScoreModel) -> dict[str, float]:
    """Total gain per enabled feature (|coefficient| for ``xgboost-linear``), summing to 1."""
    booster = model.booster
    if model.center is not None:
        raw = booster.get_score(importance_type="weight")
        values = {k: float(np.sum(np.abs(v))) for k, v in raw.items()}
    else:
        values = {k: float(v) for k, v in booster.get_score(importance_type="total_gain").items()}
    named = {n: values.get(f"f{i}", 0.0) for i, n in enumerate(model.enabled)}
    total = sum(named.values()) or 1.0
    return {n: v / total for n, v in named.items()}


# ---------------------------------------------------------------------------- testing on a zip
@dataclass(frozen=True)
class EvaluatedImage:
    """One test image: the fitted version's verdict, and its label when one was given."""

    name: str
    data: bytes
    result: InspectionResult | None
    label: Verdict | None = None
    error: str | None = None

    @property
    def correct(self) -> bool | None:
        if self.label is None or self.result is None:
            return None
        return self.result.score_result is self.label

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "image": self.name,
            "verdict": None if r is None else r.score_result.value,
            "probability": None if r is None else round(r.probability, 4),
            "label": None if self.label is None else self.label.value,
            "correct": self.correct,
            "error": self.error,
        }


def parse_labels_csv(text: str) -> dict[str, Verdict]:
    """``image,label`` rows (a header line is optional) -> {image name: verdict}.

    Labels are the verdict strings (``Qualified``, ``Unqualified``, ``No Mine Detected``).
    Raises :class:`IngestError` naming the bad line.
    """
    out: dict[str, Verdict] = {}
    known = {v.value.lower(): v for v in Verdict}
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise IngestError(
                f"labels CSV line {lineno}: expected 2 columns 'image,label', got {len(row)}"
            )
        image, label = row[0].strip(), row[1].strip()
        if lineno == 1 and image.lower() == "image" and label.lower() == "label":
            continue
        verdict = known.get(label.lower())
        if verdict is None:
            raise IngestError(
                f"labels CSV line {lineno}: label {label!r} is not one of "
                f"{', '.join(v.value for v in Verdict)}"
            )
        out[image] = verdict
    if not out:
        raise IngestError("labels CSV: no 'image,label' rows found")
    return out


def with_truck_masks(result: InspectionResult, trucks: Sequence[TruckMasks]) -> InspectionResult:
    """``result`` with detections and masks of the trucks (bed, then load), for overlays."""
    boxes, conf, cls, masks, iou = [], [], [], [], []
    for t in trucks:
        boxes.append(t.bed_xyxy)
        conf.append(t.bed_confidence)
        cls.append(0)
        masks.append(t.bed_mask)
        iou.append(t.bed_mask_iou)
        if t.load_xyxy is not None:
            boxes.append(t.load_xyxy)
            conf.append(t.load_confidence)
            cls.append(1)
            masks.append(t.load_mask)
            iou.append(t.load_mask_iou)
    if not boxes:
        return result
    return replace(
        result,
        detections=Detections(
            np.array(boxes, np.float32), np.array(conf, np.float32), np.array(cls, np.int32)
        ),
        masks=SegmentationMasks(np.stack(masks), np.array(iou, np.float32)),
    )


def evaluate_images(
    model: ScoreModel,
    mask_source: MaskSource,
    images: Sequence[ArchiveImage],
    labels: Mapping[str, Verdict] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[EvaluatedImage]:
    """Score every image with ``model`` on ``mask_source``'s masks; mistakes first, then by name.

    Raises:
        IngestError: ``labels`` name images that are not in the zip, or miss some of them.
    """
    from loadcheck.scoring.verdict import score_trucks

    if labels is not None:
        names = {img.name for img in images}
        unknown = sorted(set(labels) - names)
        unlabelled = sorted(names - set(labels))
        if unknown or unlabelled:
            raise IngestError(
                "labels CSV does not match the zip: "
                + (f"not in the zip: {', '.join(unknown[:10])}; " if unknown else "")
                + (f"without a label: {', '.join(unlabelled[:10])}" if unlabelled else "")
            )
    rows = []
    for i, img in enumerate(images):
        label = labels.get(img.name) if labels else None
        try:
            trucks = mask_source.segment(img.data)
            result = with_truck_masks(score_trucks(trucks, model), trucks)
            rows.append(EvaluatedImage(img.name, img.data, result, label))
        except (IntegratorError, ValueError) as exc:
            rows.append(EvaluatedImage(img.name, img.data, None, label, str(exc)))
        if progress:
            progress(i + 1, len(images))
    return sorted(rows, key=lambda r: (r.correct is not False, r.error is None, r.name))


def verdict_confusion(rows: Sequence[EvaluatedImage]) -> list[list[int]]:
    """3 x 3 counts over :data:`VERDICTS` (rows = label, columns = verdict) of labelled rows."""
    index = {Verdict(v): i for i, v in enumerate(VERDICTS)}
    out = [[0] * len(VERDICTS) for _ in VERDICTS]
    for r in rows:
        if r.label is not None and r.result is not None:
            out[index[r.label]][index[r.result.score_result]] += 1
    return out
