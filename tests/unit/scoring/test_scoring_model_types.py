"""Hyper-parameter validation and feature settings."""

from __future__ import annotations

import pytest

from loadcheck.scoring import MODEL_TYPES, FeatureSetting, HyperParameterError, validate_params
from loadcheck.scoring.model_types import parse_param_assignments, resolved_params
from loadcheck.scoring.settings import (
    SettingsError,
    check_settings_for_type,
    features_from_json,
    features_to_json,
    parse_feature_assignment,
    validate_threshold,
)


def test_string_values_are_converted_to_the_declared_types():
    params = validate_params("xgboost", {"max_depth": "3", "learning_rate": "0.2"})
    assert params == {"max_depth": 3, "learning_rate": 0.2}
    assert isinstance(params["max_depth"], int)


@pytest.mark.parametrize(
    ("model_type", "params", "message"),
    [
        ("xgboost", {"max_dept": 3}, "unknown hyper-parameter 'max_dept'"),
        ("xgboost-linear", {"max_depth": 3}, "accepted:"),
        ("xgboost", {"rate_drop": 0.1}, "unknown hyper-parameter 'rate_drop'"),
        ("xgboost", {"max_depth": 0}, r"out of range; expected int in \[1, 16\]"),
        ("xgboost", {"max_depth": 2.5}, "expected int"),
        ("xgboost", {"max_depth": "deep"}, "expected int"),
        ("xgboost", {"learning_rate": 0}, r"expected float in \(0, 1\]"),
        ("xgboost", {"subsample": True}, "boolean"),
        ("xgboost", {"reg_lambda": float("nan")}, "finite"),
        ("xgboost-forest", {}, "unknown model type"),
    ],
)
def test_invalid_hyper_parameters_are_rejected_with_a_clear_message(model_type, params, message):
    with pytest.raises(HyperParameterError, match=message):
        validate_params(model_type, params)


def test_every_model_type_has_valid_defaults():
    for name, mtype in MODEL_TYPES.items():
        assert set(mtype.defaults) <= set(mtype.accepted), name
        assert resolved_params(name, {}) == validate_params(name, mtype.defaults)


def test_param_assignments_must_be_key_equals_value():
    assert parse_param_assignments(["max_depth=4"]) == {"max_depth": "4"}
    with pytest.raises(HyperParameterError, match="KEY=VALUE"):
        parse_param_assignments(["max_depth"])


def test_feature_assignments_update_only_the_given_keys():
    name, setting = parse_feature_assignment("fullness:weight=1.5,monotone=+1", {})
    assert (name, setting) == ("fullness", FeatureSetting(True, 1.5, 1))
    _, setting = parse_feature_assignment("fullness:enabled=false", {"fullness": setting})
    assert setting == FeatureSetting(False, 1.5, 1)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("fulness:weight=1", "unknown feature 'fulness'"),
        ("fullness", "expected NAME:weight"),
        ("fullness:colour=red", "not one of"),
        ("fullness:weight=9", r"weight: expected a number in \[-5, 5\]"),
        ("fullness:monotone=2", "monotone: expected -1, 0 or \\+1"),
        ("fullness:enabled=maybe", "enabled: expected true or false"),
        ("fullness:weight=abc", "bad value for weight"),
    ],
)
def test_invalid_feature_settings_are_rejected(item, message):
    with pytest.raises(SettingsError, match=message):
        parse_feature_assignment(item, {})


def test_monotone_constraints_are_refused_for_the_linear_model():
    with pytest.raises(HyperParameterError, match="does not support monotone"):
        check_settings_for_type("xgboost-linear", {"fullness": FeatureSetting(monotone=1)})
    check_settings_for_type("xgboost-dart", {"fullness": FeatureSetting(monotone=1)})


def test_disabling_every_feature_is_refused():
    from loadcheck.features import FEATURE_NAMES

    with pytest.raises(SettingsError, match="at least one feature"):
        check_settings_for_type(
            "xgboost", {n: FeatureSetting(enabled=False) for n in FEATURE_NAMES}
        )


def test_feature_settings_round_trip_through_json_keeping_only_non_defaults():
    settings = {"fullness": FeatureSetting(True, 1.0, 1), "solidity": FeatureSetting()}
    data = features_to_json(settings)
    assert list(data) == ["fullness"]
    assert features_from_json(data) == {"fullness": FeatureSetting(True, 1.0, 1)}


@pytest.mark.parametrize("value", [-0.1, 1.5, "x", None])
def test_thresholds_outside_zero_one_are_rejected(value):
    with pytest.raises(SettingsError, match=r"threshold: expected a number in \[0, 1\]"):
        validate_threshold(value)
