"""Fitting, cross-validation metrics, save/load and the spec-version guard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scoring_data import FAST, table

from loadcheck.features import FEATURE_SPEC, extract_features
from loadcheck.payloads import LoadFeatures, TruckMasks
from loadcheck.scoring import (
    MODEL_TYPES,
    FeatureSetting,
    FitError,
    ScoreModel,
    ScoreModelError,
    fit_score_model,
)
from loadcheck.scoring.fit import binary_metrics, stratified_folds
from loadcheck.scoring.model import METADATA_FILE


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_each_model_type_learns_and_reloads_with_identical_predictions(model_type, tmp_path):
    x, y = table()
    params = {"n_estimators": 40}
    result = fit_score_model(x, y, model_type=model_type, params=params, cv_folds=3)
    assert result.cv is not None and result.cv.accuracy >= 0.85
    result.model.save(tmp_path)
    loaded = ScoreModel.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(x), result.model.predict_proba(x))
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    assert meta["model_type"] == model_type
    assert meta["feature_spec_version"] == FEATURE_SPEC.version
    assert meta["feature_names"] == list(FEATURE_SPEC.names)
    assert meta["hyper_parameters"]["n_estimators"] == 40
    assert meta["cv_metrics"]["folds"] == 3


def test_cv_metrics_report_accuracy_precision_recall_and_confusion():
    m = binary_metrics(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]), folds=5)
    assert m.confusion == [[1, 1], [1, 2]]
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert (m.n_qualified, m.n_unqualified) == (3, 2)


def test_stratified_folds_spread_each_class_evenly():
    y = np.array([0] * 10 + [1] * 5)
    folds = stratified_folds(y, 5, seed=1)
    for f in range(5):
        assert (y[folds == f] == 0).sum() == 2 and (y[folds == f] == 1).sum() == 1


def test_fewer_than_two_samples_of_a_class_cannot_be_fitted():
    x, _ = table(10)
    y = np.array([1] + [0] * 9)
    with pytest.raises(FitError, match="at least 2 samples of each class, got 1 qualified"):
        fit_score_model(x, y)


def test_folds_are_reduced_to_the_smaller_class():
    x, _ = table(12)
    y = np.array([1, 1, 1] + [0] * 9)
    result = fit_score_model(x, y, params={"n_estimators": 5})
    assert result.cv is not None and result.cv.folds == 3


def test_disabled_features_are_not_used_by_the_model():
    x, y = table()
    settings = {"fullness": FeatureSetting(enabled=False)}
    model = fit_score_model(x, y, feature_settings=settings, cv_folds=0, params=FAST).model
    assert "fullness" not in model.enabled
    x2 = x.copy()
    x2[:, FEATURE_SPEC.index("fullness")] = 0.0
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x2))


def test_a_monotone_constraint_is_honoured():
    x, y = table()
    settings = {"fullness": FeatureSetting(monotone=1)}
    model = fit_score_model(x, y, feature_settings=settings, cv_folds=0, params=FAST).model
    sweep = np.repeat(x[:1], 50, axis=0)
    sweep[:, FEATURE_SPEC.index("fullness")] = np.linspace(0.7, 1.0, 50)
    assert np.all(np.diff(model.predict_proba(sweep)) >= -1e-7)


def test_emphasis_weights_change_the_fitted_model():
    x, y = table()
    plain = fit_score_model(x, y, cv_folds=0, params=FAST).model
    weighted = fit_score_model(
        x, y, cv_folds=0, params=FAST, feature_settings={"solidity": FeatureSetting(weight=5)}
    ).model
    assert not np.array_equal(plain.predict_proba(x), weighted.predict_proba(x))


def test_predict_accepts_load_features_and_checks_their_spec_version():
    x, y = table()
    model = fit_score_model(x, y, cv_folds=0, params=FAST, threshold=0.7).model
    bed = np.zeros((20, 30), bool)
    bed[10:20, 5:25] = True
    features = extract_features(TruckMasks(bed, bed, (5, 10, 25, 20)))
    assert model.predict_proba(features).shape == (1,)
    assert model.threshold == 0.7
    other = LoadFeatures(features.names, features.values, "lc-features-0")
    with pytest.raises(ScoreModelError, match=r"'lc-features-0'.*'lc-features-1'"):
        model.predict_proba(other)
    with pytest.raises(ScoreModelError, match=r"expected float32 \[N, "):
        model.predict_proba(np.zeros((2, 3), np.float32))


def test_loading_a_model_of_another_spec_version_names_both_versions(tmp_path):
    x, y = table()
    fit_score_model(x, y, cv_folds=0, params=FAST).model.save(tmp_path)
    meta = json.loads((tmp_path / METADATA_FILE).read_text())
    meta["feature_spec_version"] = "lc-features-0"
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ScoreModelError, match=r"'lc-features-0'.*'lc-features-1'"):
        ScoreModel.load(tmp_path)


def test_loading_a_folder_without_the_artifact_files_fails_clearly(tmp_path):
    with pytest.raises(ScoreModelError, match=r"missing scorer\.json"):
        ScoreModel.load(tmp_path)
