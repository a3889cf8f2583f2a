"""Per-feature settings (enabled, emphasis weight, monotone direction) and the threshold.

Emphasis ``w`` in [-5, 5] (0 = neutral) maps to XGBoost's ``feature_weights`` as ``2**w`` for
the tree types: a feature with weight +1 is twice as likely to be sampled by
``colsample_bynode`` (the weights only act when ``colsample_bynode < 1``, the default 0.8).
For ``xgboost-linear`` the standardised column is multiplied by ``2**w`` (stronger features are
less shrunk by the L1/L2 penalty).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.scoring.model_types import HyperParameterError, get_model_type

MAX_EMPHASIS = 5.0
DEFAULT_THRESHOLD = 0.5


class SettingsError(ValueError):
    """A feature setting or threshold is invalid."""


@dataclass(frozen=True)
class FeatureSetting:
    """How one feature is used: ``enabled``, ``weight`` in [-5, 5], ``monotone`` in {-1, 0, 1}."""

    enabled: bool = True
    weight: float = 0.0
    monotone: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise SettingsError(f"enabled: expected true/false, got {self.enabled!r}")
        weight = float(self.weight)
        if not math.isfinite(weight) or abs(weight) > MAX_EMPHASIS:
            raise SettingsError(
                f"weight: expected a number in [-{MAX_EMPHASIS:g}, {MAX_EMPHASIS:g}], got "
                f"{self.weight!r}"
            )
        if self.monotone not in (-1, 0, 1):
            raise SettingsError(f"monotone: expected -1, 0 or +1, got {self.monotone!r}")
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "monotone", int(self.monotone))

    @property
    def is_default(self) -> bool:
        return self == FeatureSetting()


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise SettingsError(f"enabled: expected true or false, got {text!r}")


def parse_feature_assignment(
    item: str, current: Mapping[str, FeatureSetting]
) -> tuple[str, FeatureSetting]:
    """``"fullness:weight=1,monotone=1,enabled=true"`` -> (name, updated setting)."""
    name, sep, rest = item.partition(":")
    name = name.strip()
    if not sep or not rest.strip():
        raise SettingsError(
            f"--feature {item!r}: expected NAME:weight=W,monotone=M,enabled=B "
            "(any subset of the three keys)"
        )
    if name not in FEATURE_SPEC.names:
        raise SettingsError(
            f"--feature {item!r}: unknown feature {name!r}; known: {', '.join(FEATURE_SPEC.names)}"
        )
    values: dict[str, Any] = asdict(current.get(name, FeatureSetting()))
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in ("weight", "monotone", "enabled"):
            raise SettingsError(
                f"--feature {item!r}: {part!r} is not one of weight=W, monotone=M, enabled=B"
            )
        try:
            if key == "weight":
                values[key] = float(value)
            elif key == "monotone":
                values[key] = int(value.strip().lstrip("+"))
            else:
                values[key] = _parse_bool(value)
        except ValueError as exc:
            raise SettingsError(f"--feature {item!r}: bad value for {key}: {exc}") from None
    return name, FeatureSetting(**values)


def validate_threshold(value: Any) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"threshold: expected a number in [0, 1], got {value!r}") from None
    if not (0.0 <= threshold <= 1.0):
        raise SettingsError(f"threshold: expected a number in [0, 1], got {value!r}")
    return threshold


def features_to_json(settings: Mapping[str, FeatureSetting]) -> dict[str, dict[str, Any]]:
    """Only non-default settings, in spec order."""
    return {
        n: asdict(settings[n])
        for n in FEATURE_SPEC.names
        if n in settings and not settings[n].is_default
    }


def features_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[str, FeatureSetting]:
    out = {}
    for name, values in data.items():
        if name not in FEATURE_SPEC.names:
            raise SettingsError(f"feature settings: unknown feature {name!r}")
        out[name] = FeatureSetting(**values)
    return out


def check_settings_for_type(model_type: str, settings: Mapping[str, FeatureSetting]) -> None:
    """Reject settings the model type cannot honour (monotone constraints on gblinear)."""
    mtype = get_model_type(model_type)
    if not mtype.supports_monotone:
        bad = [n for n, s in settings.items() if s.monotone != 0]
        if bad:
            raise HyperParameterError(
                f"model type {model_type!r} does not support monotone constraints (set on "
                f"{', '.join(bad)}); use xgboost, xgboost-rf or xgboost-dart, or set monotone=0"
            )
    enabled = [n for n in FEATURE_SPEC.names if settings.get(n, FeatureSetting()).enabled]
    if not enabled:
        raise SettingsError("feature settings: at least one feature must stay enabled")
