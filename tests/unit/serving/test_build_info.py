"""A repository build's id and card hashes: recorded in the manifest, carried to the scorers."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from network_cards import synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import NETWORK_KINDS, card_path_for
from loadcheck.pipeline.declaration import Segmentator
from loadcheck.pipeline.registry import step_from_config
from loadcheck.pipeline.scorer import ScorerSettings, ScorerStep
from loadcheck.serving import layout
from loadcheck.serving.build_info import BuildInfo, BuildInfoError, card_hashes
from loadcheck.serving.config import parse_config
from loadcheck.serving.deploy import write_integrator
from loadcheck.serving.repository import MANIFEST, RepositoryError, read_manifest, write_model

DIGEST = "cd" * 32


@pytest.fixture(autouse=True)
def _no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path / "no-workspace"))


def _repository(root: Path, build: BuildInfo | None) -> Path:
    from loadcheck.features.spec import FEATURE_SPEC
    from loadcheck.scoring.fit import fit_score_model

    write_model(root, layout.segmentator_config(Segmentator.from_networks(synthetic_networks())))
    manifest: dict = {"export_dir": "exports", "settings": {}}
    if build is not None:
        manifest["build"] = build.to_json()
    (root / MANIFEST).write_text(json.dumps(manifest))
    rng = np.random.default_rng(0)
    x = rng.random((20, len(FEATURE_SPEC)), dtype=np.float32)
    out = root / tn.scorer_model_name("site_a") / "2"
    out.mkdir(parents=True)
    fit_score_model(x, (x[:, 0] > 0.5).astype(int), cv_folds=0).model.save(out)
    return root


def _served_scorer(repository: Path) -> ScorerStep:
    folder = repository / tn.scorer_model_name("site_a")
    config = parse_config((folder / "config.pbtxt").read_text())
    step = step_from_config(config, folder / "2")
    assert isinstance(step, ScorerStep)
    return step


def test_a_build_id_names_its_time_and_two_builds_never_share_one() -> None:
    at = datetime(2026, 12, 5, 23, 0, 0, tzinfo=UTC)
    one = BuildInfo.new({"detector": DIGEST}, {"instances": 1}, at)
    assert re.fullmatch(r"20261205T230000Z-[0-9a-f]{16}", one.id)
    assert BuildInfo.new({"detector": DIGEST}, {"instances": 2}, at).id != one.id
    assert BuildInfo.new({"detector": DIGEST}, {"instances": 1}).id != one.id
    assert BuildInfo.from_json(json.loads(json.dumps(one.to_json()))) == one


@pytest.mark.parametrize("data", [[], {"networks": {}}, "x"])
def test_a_malformed_build_entry_is_refused(data: object) -> None:
    with pytest.raises(BuildInfoError, match="build"):
        BuildInfo.from_json(data)


def test_card_hashes_are_the_sha256_of_each_networks_card_file(tmp_path: Path) -> None:
    networks = synthetic_networks(tmp_path)
    for kind in NETWORK_KINDS:
        networks.card(kind).save(card_path_for(networks.path(kind)))
    hashes = card_hashes(networks)
    assert set(hashes) == set(NETWORK_KINDS)
    for kind in NETWORK_KINDS:
        data = card_path_for(networks.path(kind)).read_bytes()
        assert hashes[kind] == hashlib.sha256(data).hexdigest()


def test_a_deployed_scorer_answers_with_the_build_and_its_version(tmp_path: Path) -> None:
    build = BuildInfo.new({k: DIGEST for k in NETWORK_KINDS}, {})
    repository = _repository(tmp_path, build)
    assert read_manifest(repository).build == build
    assert write_integrator(repository, "site_a") == 2
    step = _served_scorer(repository)
    assert step.settings == ScorerSettings(build.id, build.networks)
    provenance = step.provenance
    assert provenance.integrator == "site_a" and provenance.scorer_version == 2
    assert provenance.repository_build == build.id
    assert dict(provenance.networks) == {k: DIGEST for k in NETWORK_KINDS}


def test_a_repository_built_before_build_ids_serves_with_the_build_unknown(tmp_path: Path) -> None:
    repository = _repository(tmp_path, None)
    assert read_manifest(repository).build is None
    write_integrator(repository, "site_a")
    provenance = _served_scorer(repository).provenance
    assert provenance.repository_build is None and dict(provenance.networks) == {}
    assert provenance.scorer_version == 2


def test_a_manifest_with_a_malformed_build_is_an_error_naming_the_manifest(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"settings": {}, "build": {"no_id": 1}}))
    with pytest.raises(RepositoryError, match=MANIFEST):
        read_manifest(tmp_path)
