"""Fitting a score model with stratified K-fold cross-validation (numpy only, no scikit-learn)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.monitoring.drift import REFERENCE_KEY, DriftReference
from loadcheck.scoring.model import ScoreModel
from loadcheck.scoring.model_types import get_model_type, resolved_params
from loadcheck.scoring.review import FEATURE_BOUNDS_KEY, REVIEW_KEY, FeatureBounds, ReviewSettings
from loadcheck.scoring.settings import (
    FeatureSetting,
    check_settings_for_type,
    features_to_json,
    validate_threshold,
)

LOG = logging.getLogger(__name__)
MIN_PER_CLASS = 2


class FitError(ValueError):
    """The fitting data cannot produce a model (too few samples, one class only...)."""


@dataclass(frozen=True)
class CvMetrics:
    """Cross-validated metrics; Qualified (label 1) is the positive class.

    ``confusion`` is ``[[TN, FP], [FN, TP]]``: rows = true (Unqualified, Qualified), columns =
    predicted (Unqualified, Qualified), at the integrator's threshold.
    """

    folds: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion: list[list[int]]
    n_samples: int
    n_qualified: int
    n_unqualified: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray, folds: int) -> CvMetrics:
    """Metrics of bool/0-1 ``[N]`` predictions against 0-1 ``[N]`` labels."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp, tn = int(np.sum(t & p)), int(np.sum(~t & ~p))
    fp, fn = int(np.sum(~t & p)), int(np.sum(t & ~p))
    n = len(t)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return CvMetrics(
        folds,
        (tp + tn) / n if n else 0.0,
        precision,
        recall,
        f1,
        [[tn, fp], [fn, tp]],
        n,
        int(t.sum()),
        int((~t).sum()),
    )


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """int ``[N]`` fold index per sample, classes spread evenly over the ``k`` folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), np.int64)
    offset = 0
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return fold


def _threads() -> int:
    """XGBoost threads for fitting: ``$LOADCHECK_FIT_THREADS`` or 1.

    One thread is the fastest for a few thousand samples; more threads spin and lose when the
    cores are shared (measured: 0.14 s vs 0.81 s for 150 trees on 1,000 samples, 2 busy cores).
    """
    env = os.environ.get("LOADCHECK_FIT_THREADS")
    return max(1, int(env)) if env else 1


def _train(
    x: np.ndarray,
    y: np.ndarray,
    model_type: str,
    params: Mapping[str, Any],
    settings: Mapping[str, FeatureSetting],
    enabled: tuple[str, ...],
    threshold: float,
) -> ScoreModel:
    import xgboost as xgb

    mtype = get_model_type(model_type)
    cols = [FEATURE_SPEC.index(n) for n in enabled]
    xs = x[:, cols].astype(np.float32)
    emphasis = np.array(
        [2.0 ** settings.get(n, FeatureSetting()).weight for n in enabled], np.float32
    )
    center = scale = None
    if mtype.booster["booster"] == "gblinear":
        center = xs.mean(axis=0)
        std = xs.std(axis=0)
        scale = (np.where(std > 1e-9, 1.0 / np.maximum(std, 1e-9), 0.0) * emphasis).astype(
            np.float32
        )
        xs = ((xs - center) * scale).astype(np.float32)
    booster_params: dict[str, Any] = {
        **mtype.booster,
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "nthread": _threads(),
        "seed": int(params["seed"]),
        "eta": params["learning_rate"],
        "lambda": params["reg_lambda"],
        "alpha": params["reg_alpha"],
        "scale_pos_weight": params["scale_pos_weight"],
    }
    rounds = int(params["n_estimators"])
    if "max_depth" in mtype.accepted:
        booster_params.update(
            max_depth=params["max_depth"],
            subsample=params["subsample"],
            colsample_bynode=params["colsample_bynode"],
            min_child_weight=params["min_child_weight"],
            gamma=params["gamma"],
            monotone_constraints="("
            + ",".join(str(settings.get(n, FeatureSetting()).monotone) for n in enabled)
            + ")",
        )
    if model_type == "xgboost-rf":
        booster_params["num_parallel_tree"] = rounds
        rounds = 1
    if model_type == "xgboost-dart":
        booster_params.update(rate_drop=params["rate_drop"], skip_drop=params["skip_drop"])
    dtrain = xgb.DMatrix(xs, label=y.astype(np.float32), feature_names=list(enabled))
    if mtype.supports_feature_weights and mtype.booster["booster"] != "gblinear":
        dtrain.set_info(feature_weights=emphasis)
    booster = xgb.train(booster_params, dtrain, num_boost_round=rounds)
    booster.feature_names = None  # inputs are plain float32 arrays in spec order
    booster.set_param({"nthread": 1})  # prediction batches are small
    return ScoreModel(
        booster, FEATURE_SPEC.names, enabled, FEATURE_SPEC.version, threshold, center, scale
    )


@dataclass(frozen=True)
class FitResult:
    model: ScoreModel
    cv: CvMetrics | None
    fit_seconds: float


def fit_score_model(
    x: np.ndarray,
    y: np.ndarray,
    *,
    model_type: str = "xgboost",
    params: Mapping[str, Any] | None = None,
    feature_settings: Mapping[str, FeatureSetting] | None = None,
    threshold: float = 0.5,
    cv_folds: int = 5,
    integrator: str = "",
    review: ReviewSettings | None = None,
) -> FitResult:
    """Cross-validate, then fit on all samples.

    Args:
        x: float32 ``[N, F]`` features in :data:`FEATURE_SPEC` order.
        y: ``[N]`` labels, 1 = Qualified, 0 = Unqualified.
        cv_folds: K for stratified K-fold (reduced to the smaller class count, min 2);
            0 skips cross-validation.
        review: the "needs review" thresholds stored with the version (default: the defaults
            of :class:`~loadcheck.scoring.review.ReviewSettings`).

    Raises:
        FitError: fewer than 2 samples of a class, bad shapes, non-finite features.
        HyperParameterError / SettingsError: invalid settings.
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if x.ndim != 2 or x.shape[1] != len(FEATURE_SPEC) or len(x) != len(y):
        raise FitError(
            f"fit: expected x float32 [N, {len(FEATURE_SPEC)}] and y [N], got {x.shape} and "
            f"{y.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise FitError("fit: features contain NaN or infinite values")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise FitError("fit: labels must be 0 (Unqualified) or 1 (Qualified)")
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        raise FitError(
            f"fit: need at least {MIN_PER_CLASS} samples of each class, got {n_pos} qualified "
            f"and {n_neg} unqualified; add fitting data (loadcheck integrator add-data)"
        )
    settings = dict(feature_settings or {})
    check_settings_for_type(model_type, settings)
    resolved = resolved_params(model_type, params or {})
    threshold = validate_threshold(threshold)
    enabled = tuple(n for n in FEATURE_SPEC.names if settings.get(n, FeatureSetting()).enabled)
    start = time.perf_counter()
    cv = None
    if cv_folds:
        if cv_folds < 2:
            raise FitError(f"fit: --cv must be 0 (no cross-validation) or >= 2, got {cv_folds}")
        k = min(cv_folds, n_pos, n_neg)
        if k < cv_folds:
            LOG.warning(
                "only %d samples in the smaller class: using %d folds", min(n_pos, n_neg), k
            )
        folds = stratified_folds(y, k, int(resolved["seed"]))
        pred = np.zeros(len(y), bool)
        for f in range(k):
            test = folds == f
            m = _train(x[~test], y[~test], model_type, resolved, settings, enabled, threshold)
            pred[test] = m.predict(x[test])
        cv = binary_metrics(y, pred, k)
    model = _train(x, y, model_type, resolved, settings, enabled, threshold)
    seconds = time.perf_counter() - start
    model.metadata.update(
        model_type=model_type,
        hyper_parameters=resolved,
        feature_settings=features_to_json(settings),
        cv_metrics=cv.to_dict() if cv else None,
        integrator=integrator,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        fit_seconds=round(seconds, 4),
        n_samples=len(y),
    )
    # the fitting data per feature, for the served scorer's drift figures
    model.metadata[REFERENCE_KEY] = DriftReference.from_samples(x, FEATURE_SPEC.names).to_json()
    model.metadata[REVIEW_KEY] = (review or ReviewSettings()).to_json()
    # each feature's range on the fitting data, for the "unusual_features" review reason
    model.metadata[FEATURE_BOUNDS_KEY] = FeatureBounds.from_samples(x, FEATURE_SPEC.names).to_json()
    return FitResult(model, cv, seconds)
