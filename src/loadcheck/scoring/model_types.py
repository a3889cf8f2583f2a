"""Score-model types (all XGBoost) and their validated hyper-parameters.

A registry, not an isinstance ladder: :data:`MODEL_TYPES` maps the CLI choice to the booster
settings and the hyper-parameters it accepts, with their types, ranges and defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class HyperParameterError(ValueError):
    """A hyper-parameter is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class ParamSpec:
    """One hyper-parameter: its type and inclusive range (``low_open`` excludes ``low``)."""

    kind: type
    low: float
    high: float
    help: str
    low_open: bool = False

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        return f"{self.kind.__name__} in {left}{self.low:.10g}, {self.high:.10g}]"


PARAMS: dict[str, ParamSpec] = {
    "n_estimators": ParamSpec(int, 1, 5000, "boosting rounds (trees per forest for xgboost-rf)"),
    "max_depth": ParamSpec(int, 1, 16, "maximum tree depth"),
    "learning_rate": ParamSpec(float, 0.0, 1.0, "shrinkage per round (eta)", low_open=True),
    "subsample": ParamSpec(float, 0.0, 1.0, "row subsampling per tree", low_open=True),
    "colsample_bynode": ParamSpec(float, 0.0, 1.0, "feature subsampling per split", low_open=True),
    "min_child_weight": ParamSpec(float, 0.0, 1000.0, "minimum hessian weight in a leaf"),
    "gamma": ParamSpec(float, 0.0, 1000.0, "minimum loss reduction to split"),
    "reg_lambda": ParamSpec(float, 0.0, 1000.0, "L2 regularisation"),
    "reg_alpha": ParamSpec(float, 0.0, 1000.0, "L1 regularisation"),
    "scale_pos_weight": ParamSpec(float, 0.0, 1000.0, "weight of Qualified samples", True),
    "rate_drop": ParamSpec(float, 0.0, 1.0, "dart: share of trees dropped per round"),
    "skip_drop": ParamSpec(float, 0.0, 1.0, "dart: probability of skipping the dropout"),
    "seed": ParamSpec(int, 0, 2**31 - 1, "random seed"),
}

_TREE = ("max_depth", "subsample", "colsample_bynode", "min_child_weight", "gamma")
_COMMON = ("n_estimators", "learning_rate", "reg_lambda", "reg_alpha", "scale_pos_weight", "seed")


@dataclass(frozen=True)
class ModelType:
    """A score-model type: fixed booster settings plus accepted hyper-parameters and defaults."""

    name: str
    description: str
    booster: dict[str, Any]
    defaults: dict[str, Any]
    accepted: tuple[str, ...]
    supports_monotone: bool = True
    supports_feature_weights: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


MODEL_TYPES: dict[str, ModelType] = {
    "xgboost": ModelType(
        "xgboost",
        "gradient-boosted trees (gbtree), the default",
        {"booster": "gbtree", "tree_method": "hist"},
        {
            "n_estimators": 150,
            "max_depth": 4,
            "learning_rate": 0.1,
            "subsample": 0.9,
            "colsample_bynode": 0.8,
            "min_child_weight": 1.0,
            "gamma": 0.0,
            "reg_lambda": 1.0,
            "reg_alpha": 0.0,
            "scale_pos_weight": 1.0,
            "seed": 0,
        },
        _COMMON + _TREE,
    ),
    "xgboost-rf": ModelType(
        "xgboost-rf",
        "random forest: one round of n_estimators parallel trees",
        {"booster": "gbtree", "tree_method": "hist"},
        {
            "n_estimators": 200,
            "max_depth": 8,
            "learning_rate": 1.0,
            "subsample": 0.8,
            "colsample_bynode": 0.6,
            "min_child_weight": 1.0,
            "gamma": 0.0,
            "reg_lambda": 1e-5,
            "reg_alpha": 0.0,
            "scale_pos_weight": 1.0,
            "seed": 0,
        },
        _COMMON + _TREE,
    ),
    "xgboost-linear": ModelType(
        "xgboost-linear",
        "linear model (gblinear) on standardised features",
        {"booster": "gblinear", "updater": "coord_descent", "feature_selector": "cyclic"},
        {
            "n_estimators": 200,
            "learning_rate": 0.5,
            "reg_lambda": 0.0,
            "reg_alpha": 0.0,
            "scale_pos_weight": 1.0,
            "seed": 0,
        },
        _COMMON,
        supports_monotone=False,
    ),
    "xgboost-dart": ModelType(
        "xgboost-dart",
        "boosted trees with dropout (dart)",
        {
            "booster": "dart",
            "tree_method": "hist",
            "sample_type": "uniform",
            "normalize_type": "tree",
        },
        {
            "n_estimators": 60,
            "max_depth": 4,
            "learning_rate": 0.2,
            "subsample": 0.9,
            "colsample_bynode": 0.8,
            "min_child_weight": 1.0,
            "gamma": 0.0,
            "reg_lambda": 1.0,
            "reg_alpha": 0.0,
            "scale_pos_weight": 1.0,
            "seed": 0,
            "rate_drop": 0.1,
            "skip_drop": 0.5,
        },
        (*_COMMON, *_TREE, "rate_drop", "skip_drop"),
    ),
}
DEFAULT_MODEL_TYPE = "xgboost"


def get_model_type(name: str) -> ModelType:
    try:
        return MODEL_TYPES[name]
    except KeyError:
        raise HyperParameterError(
            f"unknown model type {name!r}; expected one of {', '.join(MODEL_TYPES)}"
        ) from None


def _coerce(key: str, value: Any, spec: ParamSpec) -> int | float:
    if isinstance(value, bool):
        raise HyperParameterError(f"{key}: expected {spec.describe()}, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if spec.kind is int else float(text)
        except ValueError:
            raise HyperParameterError(f"{key}: expected {spec.describe()}, got {text!r}") from None
    if spec.kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise HyperParameterError(f"{key}: expected {spec.describe()}, got {value!r}")
    elif isinstance(value, int | float):
        value = float(value)
    else:
        raise HyperParameterError(f"{key}: expected {spec.describe()}, got {value!r}")
    if not math.isfinite(value):
        raise HyperParameterError(f"{key}: expected a finite number, got {value!r}")
    too_low = value <= spec.low if spec.low_open else value < spec.low
    if too_low or value > spec.high:
        raise HyperParameterError(f"{key}: {value!r} is out of range; expected {spec.describe()}")
    return value


def validate_params(model_type: str, params: Mapping[str, Any]) -> dict[str, int | float]:
    """Check user hyper-parameters for ``model_type``; returns them typed (no defaults added).

    Raises:
        HyperParameterError: unknown model type, unknown key (the message lists the accepted
            ones), wrong type or out of range.
    """
    mtype = get_model_type(model_type)
    clean: dict[str, int | float] = {}
    for key, value in params.items():
        if key not in mtype.accepted:
            raise HyperParameterError(
                f"unknown hyper-parameter {key!r} for model type {model_type!r}; accepted: "
                f"{', '.join(sorted(mtype.accepted))}"
            )
        clean[key] = _coerce(key, value, PARAMS[key])
    return clean


def resolved_params(model_type: str, params: Mapping[str, Any]) -> dict[str, int | float]:
    """Defaults of ``model_type`` overridden by the validated ``params``."""
    return {**get_model_type(model_type).defaults, **validate_params(model_type, params)}


def parse_param_assignments(items: list[str]) -> dict[str, str]:
    """``["max_depth=3", ...]`` -> ``{"max_depth": "3"}`` (values are validated later)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise HyperParameterError(f"--param {item!r}: expected KEY=VALUE, e.g. max_depth=4")
        out[key.strip()] = value.strip()
    return out
