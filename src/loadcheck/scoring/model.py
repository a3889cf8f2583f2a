"""A fitted score model: an XGBoost booster plus the metadata needed to use it safely.

Artifact directory layout (never pickle)::

    <dir>/model.ubj      the booster, in XGBoost's own UBJSON format
    <dir>/scorer.json    feature spec version + names, enabled features, feature settings,
                         threshold, model type, hyper-parameters, CV metrics, integrator name,
                         version, created time, standardisation (xgboost-linear only)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.payloads import LoadFeatures, ensure_names

LOG = logging.getLogger(__name__)

MODEL_FILE = "model.ubj"
METADATA_FILE = "scorer.json"
ARTIFACT_FILES = (MODEL_FILE, METADATA_FILE)
METADATA_FORMAT = 1


class ScoreModelError(ValueError):
    """A score-model artifact is missing, malformed or made for another feature spec."""


@dataclass
class ScoreModel:
    """A fitted booster and its metadata.

    Attributes:
        booster: the ``xgboost.Booster``, trained on the ``enabled`` columns.
        feature_names: the full spec names the model expects as input, in order.
        enabled: the names actually fed to the booster (a subset of ``feature_names``).
        spec_version: the feature-spec version the model was fitted with.
        threshold: Qualified when ``probability >= threshold``.
        center/scale: per-enabled-feature standardisation (``xgboost-linear``), else ``None``.
        metadata: everything else written to ``scorer.json`` (model type, params, CV metrics...).
    """

    booster: Any
    feature_names: tuple[str, ...]
    enabled: tuple[str, ...]
    spec_version: str
    threshold: float
    center: np.ndarray | None = None
    scale: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [n for n in self.enabled if n not in self.feature_names]
        if unknown:
            raise ScoreModelError(f"score model: enabled features {unknown} are not in the spec")
        self._columns = np.array([self.feature_names.index(n) for n in self.enabled], np.int64)

    # ---------------------------------------------------------------- inference
    def _matrix(self, features: LoadFeatures | np.ndarray) -> np.ndarray:
        if isinstance(features, LoadFeatures):
            if features.spec_version != self.spec_version:
                raise ScoreModelError(
                    f"features were computed with feature spec {features.spec_version!r} but the "
                    f"score model was fitted with {self.spec_version!r}"
                )
            ensure_names(features.names, self.feature_names, "score model input")
            x = features.values.reshape(1, -1)
        else:
            x = np.asarray(features, dtype=np.float32)
            if x.ndim == 1:
                x = x.reshape(1, -1)
            if x.ndim != 2 or x.shape[1] != len(self.feature_names):
                raise ScoreModelError(
                    f"score model input: expected float32 [N, {len(self.feature_names)}] "
                    f"(feature spec {self.spec_version}), got shape {x.shape}"
                )
        x = x[:, self._columns].astype(np.float32)
        if self.center is not None and self.scale is not None:
            x = ((x - self.center) * self.scale).astype(np.float32)
        return x

    def predict_proba(self, features: LoadFeatures | np.ndarray) -> np.ndarray:
        """float32 ``[N]`` probabilities of "Qualified" for ``[N, F]`` (or one) feature vectors."""
        x = self._matrix(features)
        if len(x) == 0:
            return np.zeros(0, np.float32)
        if self.center is not None:  # gblinear has no in-place prediction
            import xgboost as xgb

            proba = self.booster.predict(xgb.DMatrix(x))
        else:
            proba = self.booster.inplace_predict(x)
        return np.clip(np.asarray(proba, np.float32).reshape(-1), 0.0, 1.0)

    def predict(self, features: LoadFeatures | np.ndarray) -> np.ndarray:
        """bool ``[N]``: ``probability >= threshold``."""
        return self.predict_proba(features) >= self.threshold

    # ---------------------------------------------------------------- persistence
    def metadata_json(self) -> dict[str, Any]:
        return {
            "format": METADATA_FORMAT,
            "feature_spec_version": self.spec_version,
            "feature_names": list(self.feature_names),
            "enabled_features": list(self.enabled),
            "threshold": self.threshold,
            "standardisation": None
            if self.center is None or self.scale is None
            else {"center": self.center.tolist(), "scale": self.scale.tolist()},
            **self.metadata,
        }

    def save(self, directory: Path | str) -> None:
        """Write ``model.ubj`` and ``scorer.json`` into an existing directory (fsynced)."""
        from loadcheck.atomic import fsync_file

        out = Path(directory)
        self.booster.save_model(str(out / MODEL_FILE))
        fsync_file(out / MODEL_FILE)
        meta = out / METADATA_FILE
        meta.write_text(json.dumps(self.metadata_json(), indent=2, sort_keys=True) + "\n")
        fsync_file(meta)

    @classmethod
    def load(cls, directory: Path | str, *, nthread: int = 1) -> ScoreModel:
        """Load an artifact directory; refuses another feature-spec version.

        Raises:
            ScoreModelError: missing files, malformed metadata, or a spec version other than
                :data:`FEATURE_SPEC`'s (the message names both versions).
        """
        import xgboost as xgb

        src = Path(directory)
        meta_path, model_path = src / METADATA_FILE, src / MODEL_FILE
        for path in (meta_path, model_path):
            if not path.is_file():
                raise ScoreModelError(
                    f"score model {src}: missing {path.name}; expected {', '.join(ARTIFACT_FILES)}"
                )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ScoreModelError(f"score model {src}: cannot read {METADATA_FILE}: {exc}") from exc
        version = meta.get("feature_spec_version")
        if version != FEATURE_SPEC.version:
            raise ScoreModelError(
                f"score model {src} was fitted with feature spec {version!r}, but this loadcheck "
                f"computes feature spec {FEATURE_SPEC.version!r}; refit the integrator"
            )
        names = tuple(meta.get("feature_names", ()))
        ensure_names(names, FEATURE_SPEC.names, f"score model {src}")
        booster = xgb.Booster()
        try:
            booster.load_model(str(model_path))
        except xgb.core.XGBoostError as exc:
            raise ScoreModelError(f"score model {src}: cannot load {MODEL_FILE}: {exc}") from exc
        booster.set_param({"nthread": nthread})
        std = meta.get("standardisation")
        known = {
            "format",
            "feature_spec_version",
            "feature_names",
            "enabled_features",
            "threshold",
            "standardisation",
        }
        return cls(
            booster=booster,
            feature_names=names,
            enabled=tuple(meta.get("enabled_features", names)),
            spec_version=version,
            threshold=float(meta.get("threshold", 0.5)),
            center=None if not std else np.asarray(std["center"], np.float32),
            scale=None if not std else np.asarray(std["scale"], np.float32),
            metadata={k: v for k, v in meta.items() if k not in known},
        )

    @property
    def model_type(self) -> str:
        return str(self.metadata.get("model_type", "xgboost"))

    @property
    def mask_source(self) -> str:
        """``config_key`` of the mask source the version was fitted on (its feature-cache key);
        ``""`` if unknown. Versions fitted before the key's rename stored it as ``segmenter``."""
        return str(self.metadata.get("mask_source", self.metadata.get("segmenter", "")))

    def with_metadata(self, **values: Any) -> ScoreModel:
        self.metadata.update(values)
        return self
