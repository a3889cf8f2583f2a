"""Deploy / undeploy bookkeeping without a server (the live path is in tests/functional)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from network_cards import synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.pipeline.declaration import Segmentator
from loadcheck.serving import layout
from loadcheck.serving.config import parse_config
from loadcheck.serving.deploy import DeployError, check_name, deploy, undeploy, write_integrator
from loadcheck.serving.repository import write_model
from loadcheck.serving.state import deployed_integrators, models_to_load


@pytest.fixture(autouse=True)
def _no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path / "no-workspace"))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    segmentator = Segmentator.from_networks(synthetic_networks())
    write_model(tmp_path, layout.segmentator_config(segmentator))
    return tmp_path


def _fit(repository: Path, name: str, version: int) -> None:
    from loadcheck.features.spec import FEATURE_SPEC
    from loadcheck.scoring.fit import fit_score_model

    rng = np.random.default_rng(version)
    x = rng.random((20, len(FEATURE_SPEC)), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype(int)
    out = repository / tn.scorer_model_name(name) / str(version)
    out.mkdir(parents=True)
    fit_score_model(x, y, cv_folds=0).model.save(out)


def test_deploy_writes_scorer_config_for_the_latest_version_and_the_ensemble(repository):
    _fit(repository, "site_a", 1)
    _fit(repository, "site_a", 3)
    assert deploy(repository, "site_a") == 3
    scorer = parse_config((repository / "scorer_site_a" / "config.pbtxt").read_text())
    assert scorer["version_policy"]["specific"]["versions"] == ["3"]  # int64 -> JSON string
    assert (repository / "scorer_site_a" / "3" / "model.py").is_file()
    ensemble = parse_config((repository / "integrator_site_a" / "config.pbtxt").read_text())
    assert ensemble["ensemble_scheduling"]["step"][-1]["model_name"] == "scorer_site_a"
    assert deployed_integrators(repository) == ["site_a"]
    assert models_to_load(repository) == [tn.SEGMENTATOR_ENSEMBLE, "integrator_site_a"]


def test_deploy_of_a_chosen_version_that_was_never_fitted_is_refused(repository):
    _fit(repository, "site_a", 1)
    with pytest.raises(DeployError, match="no version 2"):
        write_integrator(repository, "site_a", 2)


def test_deploy_of_an_unknown_integrator_names_it(repository):
    with pytest.raises(DeployError, match="unknown integrator 'ghost'"):
        deploy(repository, "ghost")


def test_deploy_needs_a_built_segmentator(tmp_path):
    _fit(tmp_path, "site_a", 1)
    with pytest.raises(DeployError, match="repository build"):
        deploy(tmp_path, "site_a")


@pytest.mark.parametrize("name", ["", "Site", "a b", "../x", "x" * 64])
def test_bad_integrator_names_are_refused(name):
    with pytest.raises(DeployError, match="integrator name"):
        check_name(name)


def test_segmentator_refuses_to_unload_while_integrators_use_it_unless_forced(repository):
    _fit(repository, "site_a", 1)
    deploy(repository, "site_a")
    with pytest.raises(DeployError, match="--force"):
        undeploy(repository, tn.SEGMENTATOR_ENSEMBLE)
    unloaded = undeploy(repository, tn.SEGMENTATOR_ENSEMBLE, force=True)
    assert unloaded[:2] == ["integrator_site_a", "scorer_site_a"]
    assert tn.SEGMENTATOR_ENSEMBLE in unloaded
    assert deployed_integrators(repository) == []


def test_undeploy_removes_the_integrator_from_the_models_loaded_at_start(repository):
    _fit(repository, "site_a", 1)
    deploy(repository, "site_a")
    assert undeploy(repository, "site_a") == ["integrator_site_a", "scorer_site_a"]
    assert models_to_load(repository) == [tn.SEGMENTATOR_ENSEMBLE]
    with pytest.raises(DeployError, match="not deployed"):
        undeploy(repository, "site_a")
