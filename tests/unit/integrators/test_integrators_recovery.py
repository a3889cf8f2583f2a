"""recover_versions: what it removes, adopts, reports and leaves alone."""

from __future__ import annotations

import json
import shutil

import pytest
from integrator_files import dataset

from loadcheck.integrators.fitting import fit, list_versions
from loadcheck.integrators.recovery import recover_versions


@pytest.fixture
def fitted(store, tmp_path):
    store.create("a")
    store.update("a", params={"n_estimators": 5})
    q, u, masks = dataset(tmp_path, 3)
    store.add_data("a", q, u)
    fit(store, "a", masks_dir=masks, cv_folds=0)
    return store, masks


def test_a_clean_integrator_needs_nothing(fitted):
    store, _ = fitted
    report = recover_versions(store, "a")
    assert not report.changed and report.missing == []


def test_a_recorded_version_whose_folder_is_gone_is_reported_not_dropped(fitted):
    store, _ = fitted
    shutil.rmtree(store.model_dir("a") / "1")
    assert recover_versions(store, "a").missing == [1]
    assert [v["version"] for v in list_versions(store, "a")] == [1]


def test_a_version_folder_of_another_integrator_is_removed_not_adopted(fitted):
    store, _ = fitted
    foreign = store.model_dir("a") / "2"
    shutil.copytree(store.model_dir("a") / "1", foreign)
    meta = json.loads((foreign / "scorer.json").read_text())
    (foreign / "scorer.json").write_text(json.dumps({**meta, "integrator": "b"}))
    report = recover_versions(store, "a")
    assert report.adopted == [] and "names integrator 'b'" in report.removed[0][1]
    assert not foreign.exists()


def test_files_and_deploy_temp_files_in_the_scorer_folder_are_left_alone(fitted):
    store, _ = fitted
    config_tmp = store.model_dir("a") / ".config.pbtxt.abc123.tmp"  # a deploy writing its config
    config_tmp.write_text("x")
    (store.model_dir("a") / ".2.xyz.tmp").mkdir()
    report = recover_versions(store, "a")
    assert [folder for folder, _ in report.removed] == [".2.xyz.tmp"]
    assert config_tmp.exists()


def test_a_dry_run_changes_nothing(fitted):
    store, _ = fitted
    (store.model_dir("a") / ".2.xyz.tmp").mkdir()
    assert recover_versions(store, "a", dry_run=True).changed
    assert (store.model_dir("a") / ".2.xyz.tmp").exists()
