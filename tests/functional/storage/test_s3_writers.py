"""The repository's writers on an s3:// repository (moto's S3 server): ``loadcheck repository
build``, ``deploy`` (and a roll back by deploying another version), ``undeploy``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from loadcheck import tensor_names as tn
from loadcheck.cli import app
from loadcheck.serving.config import parse_config
from loadcheck.serving.storage import ModelRepository, open_repository
from loadcheck.workspace.paths import FITTED_FOLDER

NAME = "site_a"


def _fit(folder: Path, version: int) -> None:
    """A small fitted scorer in ``folder/scorer_site_a/<version>`` (what a fit writes)."""
    from loadcheck.features.spec import FEATURE_SPEC
    from loadcheck.scoring.fit import fit_score_model

    rng = np.random.default_rng(version)
    x = rng.random((20, len(FEATURE_SPEC)), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype(int)
    out = folder / tn.scorer_model_name(NAME) / str(version)
    out.mkdir(parents=True)
    fit_score_model(x, y, cv_folds=0).model.save(out)


def _publish_segmentator(repo: ModelRepository) -> None:
    """A built repository's ``segmentator`` (its config is all that deploy checks; the
    repository build on a bucket is tested below with real exported models)."""
    repo.write_bytes(f"{tn.SEGMENTATOR_ENSEMBLE}/config.pbtxt", b'name: "segmentator"\n')


@pytest.fixture
def s3_repository(new_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    url = f"s3://{new_bucket}/repository"
    monkeypatch.setenv("LOADCHECK_REPOSITORY", url)
    _publish_segmentator(open_repository(url))
    return url


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _served_version(repo: ModelRepository) -> list[str]:
    text = repo.read_text(f"{tn.scorer_model_name(NAME)}/config.pbtxt")
    assert text is not None
    return list(parse_config(text)["version_policy"]["specific"]["versions"])


def test_deploy_publishes_the_fitted_version_its_configs_and_the_state_to_the_bucket(
    s3_repository: str, tmp_path: Path
):
    _fit(tmp_path / "home" / FITTED_FOLDER, 1)
    assert "deployed site_a (scorer version 1)" in _cli("deploy", NAME)
    repo = open_repository(s3_repository)
    scorer = tn.scorer_model_name(NAME)
    assert {f"{scorer}/1/model.py", f"{scorer}/1/scorer.json"} <= set(repo.list_keys(scorer))
    assert _served_version(repo) == ["1"]
    ensemble = parse_config(repo.read_text(f"integrator_{NAME}/config.pbtxt") or "")
    assert ensemble["ensemble_scheduling"]["step"][-1]["model_name"] == scorer
    assert json.loads(repo.read_text("loadcheck_deployed.json") or "") == {"integrators": [NAME]}
    assert not (tmp_path / "s3:").exists()  # the old bug: a local folder named 's3:'


def test_deploying_another_version_rolls_the_bucket_back_and_keeps_both(
    s3_repository: str, tmp_path: Path
):
    fitted = tmp_path / "home" / FITTED_FOLDER
    _fit(fitted, 1)
    _fit(fitted, 2)
    _cli("deploy", NAME)
    repo = open_repository(s3_repository)
    assert _served_version(repo) == ["2"]
    _cli("deploy", NAME, "--version", "1")
    assert _served_version(repo) == ["1"]
    assert repo.exists(f"{tn.scorer_model_name(NAME)}/2/scorer.json")


def test_undeploy_removes_the_ensemble_from_the_bucket_and_keeps_the_fitted_versions(
    s3_repository: str, tmp_path: Path
):
    _fit(tmp_path / "home" / FITTED_FOLDER, 1)
    _cli("deploy", NAME)
    _cli("undeploy", NAME)
    repo = open_repository(s3_repository)
    assert repo.list_keys(f"integrator_{NAME}") == []
    assert repo.exists(f"{tn.scorer_model_name(NAME)}/1/scorer.json")
    assert json.loads(repo.read_text("loadcheck_deployed.json") or "") == {"integrators": []}


def test_the_segmentator_of_a_bucket_cannot_be_undeployed(s3_repository: str):
    result = CliRunner().invoke(app, ["undeploy", tn.SEGMENTATOR_ENSEMBLE])
    assert result.exit_code != 0
    assert "polled by every replica" in result.output


def test_deploy_to_a_missing_bucket_says_so(s3_env, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["deploy", NAME, "--repository", "s3://not-created/repo"])
    assert result.exit_code != 0
    assert "bucket 'not-created' does not exist" in result.output


@pytest.mark.torch
def test_repository_build_writes_the_same_files_to_a_bucket_as_to_a_folder(
    new_bucket: str, tmp_path: Path
):
    from loadcheck.export.tiny import export_tiny_models
    from loadcheck.serving.repository import RepositorySettings, build_repository, read_manifest

    models = tmp_path / "models"
    export_tiny_models(models)
    folder = open_repository(tmp_path / "repository")
    bucket = open_repository(f"s3://{new_bucket}/repository")
    build_repository(models, folder, RepositorySettings())
    build_repository(models, bucket, RepositorySettings())
    hidden = {k for k in bucket.list_keys() if k.endswith("/.keep")}  # empty version folders
    assert sorted(set(bucket.list_keys()) - hidden) == folder.list_keys()
    for key in folder.list_keys():
        if key != "loadcheck_repository.json":  # each build has its own id (provenance)
            assert bucket.read_bytes(key) == folder.read_bytes(key), key
    in_bucket, in_folder = read_manifest(bucket), read_manifest(folder)
    assert in_bucket.settings == in_folder.settings == RepositorySettings()
    assert in_bucket.build is not None and in_folder.build is not None
    assert in_bucket.build.networks == in_folder.build.networks
    assert in_bucket.build.id != in_folder.build.id


@pytest.mark.torch
def test_a_rebuild_on_a_bucket_publishes_a_new_version_pinned_by_its_config(
    new_bucket: str, tmp_path: Path
):
    """A replica polling during the upload keeps the version its config names; the version
    before stays (a replica may be loading it), older ones go."""
    from loadcheck.export.tiny import export_tiny_models
    from loadcheck.serving.repository import RepositorySettings, build_repository

    models = tmp_path / "models"
    export_tiny_models(models)
    bucket = open_repository(f"s3://{new_bucket}/repository")

    def versions(model: str) -> list[str]:
        return sorted({k.split("/")[1] for k in bucket.list_keys(model) if k.count("/") == 2})

    def pinned(model: str) -> list[str]:
        config = parse_config(bucket.read_text(f"{model}/config.pbtxt") or "")
        return list(config.get("version_policy", {}).get("specific", {}).get("versions", []))

    build_repository(models, bucket, RepositorySettings())
    assert (versions(tn.DETECTOR_MODEL), pinned(tn.DETECTOR_MODEL)) == (["1"], [])
    build_repository(models, bucket, RepositorySettings(queue_delay_us=100))
    assert (versions(tn.DETECTOR_MODEL), pinned(tn.DETECTOR_MODEL)) == (["1", "2"], ["2"])
    build_repository(models, bucket, RepositorySettings(queue_delay_us=200))
    assert (versions(tn.DETECTOR_MODEL), pinned(tn.DETECTOR_MODEL)) == (["2", "3"], ["3"])
    assert versions(tn.SEGMENTATOR_ENSEMBLE) == ["1"]  # an ensemble has no files to upload
