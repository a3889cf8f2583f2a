"""An integrator's "needs review" settings: stored in the workspace, written into each fit."""

from __future__ import annotations

import json
import sqlite3

import pytest
from integrator_files import dataset
from typer.testing import CliRunner

from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.fitting import fit, served_model
from loadcheck.scoring.review import (
    FEATURE_BOUNDS_KEY,
    REVIEW_KEY,
    FeatureBounds,
    ReviewSettings,
    ReviewSettingsError,
    parse_review_assignment,
)
from loadcheck.workspace.db import DB_FILE, Workspace


def test_review_settings_are_merged_validated_and_only_changes_are_stored(store):
    store.create("a")
    assert store.get("a").review == ReviewSettings()
    store.update("a", review={"min_mask_iou": 0.7})
    store.update("a", review={"several_trucks": True})
    cfg = store.get("a")
    assert cfg.review == ReviewSettings(min_mask_iou=0.7, several_trucks=True)
    assert cfg.to_dict()["review"]["min_mask_iou"] == 0.7
    with store.ws.reader() as conn:
        row = conn.execute("SELECT review_json FROM integrators WHERE name = 'a'").fetchone()
    assert json.loads(row[0]) == {"min_mask_iou": 0.7, "several_trucks": True}
    with pytest.raises(ReviewSettingsError, match="min_mask_iou"):
        store.update("a", review={"min_mask_iou": 2.0})
    assert store.get("a").review == cfg.review  # the refused update changed nothing


def test_a_fit_writes_the_integrators_review_settings_into_the_version(store, tmp_path):
    store.create("a")
    store.update("a", params={"n_estimators": 20}, review={"probability_margin": 0.05})
    q, u, masks = dataset(tmp_path, 6)
    store.add_data("a", q, u)
    fit(store, "a", masks_dir=masks, cv_folds=0)
    meta = json.loads((store.model_dir("a") / "1" / "scorer.json").read_text())
    assert meta[REVIEW_KEY] == ReviewSettings(probability_margin=0.05).to_json()
    bounds = FeatureBounds.from_json(meta[FEATURE_BOUNDS_KEY])  # the fitting data's ranges
    assert bounds is not None and sorted(bounds.names) == sorted(FEATURE_SPEC.names)
    assert all(lo <= hi for lo, hi in zip(bounds.low, bounds.high, strict=True))
    model = served_model(store, "a")
    assert ReviewSettings.from_json(model.metadata[REVIEW_KEY]).probability_margin == 0.05


def test_a_workspace_made_before_review_settings_gets_the_column_with_defaults(tmp_path):
    home = tmp_path / "old"
    home.mkdir()
    with sqlite3.connect(home / DB_FILE) as conn:
        conn.execute(
            "CREATE TABLE integrators (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '',"
            " model_type TEXT NOT NULL, params_json TEXT NOT NULL DEFAULT '{}', features_json TEXT"
            " NOT NULL DEFAULT '{}', threshold REAL NOT NULL DEFAULT 0.5, served_version INTEGER,"
            " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO integrators (name, model_type, created_at, updated_at) "
            "VALUES ('old', 'xgboost', 'x', 'x')"
        )
    from loadcheck.integrators.store import IntegratorStore

    Workspace(home)
    store = IntegratorStore(home, tmp_path / "repo")
    assert store.get("old").review == ReviewSettings()


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("min_mask_iou=0.75", ("min_mask_iou", 0.75)),
        ("several_trucks=false", ("several_trucks", False)),
        (" bed_without_load = yes ", ("bed_without_load", True)),
        ("min_unusual_features=2", ("min_unusual_features", 2)),
    ],
)
def test_review_assignments_parse(item, expected):
    assert parse_review_assignment(item) == expected


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("min_mask_iou", "KEY=VALUE"),
        ("min_iou=0.5", "KEY=VALUE"),
        ("min_mask_iou=high", "a number"),
        ("several_trucks=maybe", "true or false"),
        ("frame_margin=0.7", "frame_margin"),
        ("min_unusual_features=1.5", "an integer"),
        ("min_unusual_features=-1", "min_unusual_features"),
    ],
)
def test_bad_review_assignments_are_refused_saying_what_is_expected(item, says):
    with pytest.raises(ReviewSettingsError, match=says):
        parse_review_assignment(item)


def test_the_cli_sets_review_settings_and_refuses_bad_ones_with_exit_2(tmp_path, monkeypatch):
    from loadcheck.cli import app

    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(tmp_path / "repo"))
    runner = CliRunner()
    assert runner.invoke(app, ["integrator", "create", "a"]).exit_code == 0
    ok = runner.invoke(
        app,
        ["integrator", "set", "a", "--review", "min_mask_iou=0.7", "--review", "several_trucks=no"],
    )
    assert ok.exit_code == 0, ok.output
    review = json.loads(ok.stdout)["review"]
    assert review["min_mask_iou"] == 0.7 and review["several_trucks"] is False
    bad = runner.invoke(app, ["integrator", "set", "a", "--review", "min_mask_iou=7"])
    assert bad.exit_code == 2
    assert "min_mask_iou" in bad.output
