"""Compose and Kubernetes files validate against their schemas, in process (no engine, no cluster).

The same checks run from ``docker/validate.sh`` with the command-line tools; these tests also show
that the validators reject a broken file, so a pass means something.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_files import (
    COMPOSE,
    CONSOLE_DOCKERFILE,
    DOCKER,
    K8S,
    REPO,
    TRITON_DOCKERFILE,
    compose,
    dockerfile_instructions,
    k8s_manifest_paths,
    k8s_resource,
)

COMPOSE_SCHEMA = DOCKER / "schemas" / "compose-spec.json"
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def compose_errors(data: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_compose_file_validates_against_the_vendored_compose_spec_schema() -> None:
    assert compose_errors(compose()) == []


def test_compose_schema_rejects_an_unknown_depends_on_condition() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["console"]["depends_on"]["triton"]["condition"] = "service_healthyy"
    assert compose_errors(broken)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", k8s_manifest_paths(), ids=lambda p: p.name)
def test_k8s_manifest_validates_strictly_against_kubernetes_schemas(
    path: Path, version: str
) -> None:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_k8s_validation_rejects_a_misspelt_probe_field() -> None:
    deployment = copy.deepcopy(k8s_resource("Deployment", "loadcheck-triton"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    probe["failureThreshhold"] = probe.pop("failureThreshold")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_and_names_both_images() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in k8s_manifest_paths()]
    images = {image["name"] for image in kustomization["images"]}
    used = {
        container["image"]
        for path in k8s_manifest_paths()
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert used == images == {"loadcheck-triton", "loadcheck-console"}


def test_compose_build_targets_are_stages_of_the_dockerfile() -> None:
    stages = {i.stage for i in dockerfile_instructions(TRITON_DOCKERFILE) if i.keyword == "FROM"}
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build and "target" in build:
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
    final = [i.stage for i in dockerfile_instructions(TRITON_DOCKERFILE) if i.keyword == "FROM"]
    assert final[-1] == "serve", "the default (last) stage of triton.Dockerfile must be serve"


@pytest.mark.parametrize(
    "dockerfile", [TRITON_DOCKERFILE, CONSOLE_DOCKERFILE], ids=lambda p: p.name
)
def test_every_copied_path_exists_and_is_sent_in_the_build_context(dockerfile: Path) -> None:
    ignore = Path(f"{dockerfile}.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for ins in dockerfile_instructions(dockerfile):
        if ins.keyword != "COPY" or "--from=" in ins.args:
            continue
        sources = [s for s in ins.args.split()[:-1] if not s.startswith("--")]
        for source in sources:
            source = source.rstrip("/")
            # model_repository/ is generated (only its README is in git); README.md: own test.
            if source not in ("model_repository", "README.md"):
                assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source} missing"
            assert source in allowed, f"{dockerfile.name}: {source} is excluded by .dockerignore"


def test_compose_file_paths_are_relative_to_the_docker_folder() -> None:
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file(), name
    text = COMPOSE.read_text()
    assert re.search(r"^\s+file: \./secrets/loadcheck_api_key$", text, flags=re.MULTILINE)
    assert "/secrets/" in (DOCKER / ".gitignore").read_text().splitlines()


def test_readme_exists_because_pyproject_and_both_image_builds_need_it() -> None:
    # pyproject.toml says readme = "README.md": building the wheel in either image fails without it.
    assert 'readme = "README.md"' in (REPO / "pyproject.toml").read_text()
    assert (REPO / "README.md").is_file(), "README.md is missing: the image builds would fail"
