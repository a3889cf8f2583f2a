"""XGBoost score models: model types, validated settings, fitting with CV, save/load."""

from loadcheck.scoring.fit import CvMetrics, FitError, FitResult, fit_score_model
from loadcheck.scoring.model import ARTIFACT_FILES, ScoreModel, ScoreModelError
from loadcheck.scoring.model_types import (
    DEFAULT_MODEL_TYPE,
    MODEL_TYPES,
    HyperParameterError,
    validate_params,
)
from loadcheck.scoring.settings import FeatureSetting, SettingsError

__all__ = [
    "ARTIFACT_FILES",
    "DEFAULT_MODEL_TYPE",
    "MODEL_TYPES",
    "CvMetrics",
    "FeatureSetting",
    "FitError",
    "FitResult",
    "HyperParameterError",
    "ScoreModel",
    "ScoreModelError",
    "SettingsError",
    "fit_score_model",
    "validate_params",
]
