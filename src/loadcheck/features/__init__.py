"""Load-geometry features: the versioned spec, the extractor and truck grouping."""

from loadcheck.features.extract import extract_features, extract_features_batch
from loadcheck.features.spec import FEATURE_NAMES, FEATURE_SPEC, FeatureDef, FeatureSpec
from loadcheck.features.trucks import group_trucks, split_trucks_from_masks

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SPEC",
    "FeatureDef",
    "FeatureSpec",
    "extract_features",
    "extract_features_batch",
    "group_trucks",
    "split_trucks_from_masks",
]
