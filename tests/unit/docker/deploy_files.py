"""Readers for the files in ``docker/`` shared by the docker unit tests (no Docker engine)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
K8S = DOCKER / "k8s"
DOCS = REPO / "docs" / "deploying.md"
TRITON_DOCKERFILE = DOCKER / "triton.Dockerfile"
CONSOLE_DOCKERFILE = DOCKER / "console.Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
ADAPTER_VALUES = K8S / "addons" / "prometheus-adapter-values.yaml"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword (upper case), its arguments, and its build stage."""

    keyword: str
    args: str
    stage: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """Instructions of ``path`` with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)", args, flags=re.IGNORECASE)
            stage = match.group(1) if match else ""
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last stage (the image ``docker build`` produces by default)."""
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def triton_tag() -> str:
    """The default of ``ARG TRITON_TAG`` in docker/triton.Dockerfile, e.g. ``"24.12"``."""
    tags = [
        ins.args.split("=", 1)[1]
        for ins in dockerfile_instructions(TRITON_DOCKERFILE)
        if ins.keyword == "ARG" and ins.args.startswith("TRITON_TAG=")
    ]
    assert len(tags) == 1, f"expected one ARG TRITON_TAG=<YY.MM> in {TRITON_DOCKERFILE}, got {tags}"
    return tags[0]


def exposed_ports(path: Path) -> set[int]:
    ports: set[int] = set()
    for ins in dockerfile_instructions(path):
        if ins.keyword == "EXPOSE":
            ports.update(int(token.split("/")[0]) for token in ins.args.split())
    return ports


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def compose_published_ports(service: str) -> set[tuple[int, int]]:
    """(host, container) port pairs of a compose service's ``ports`` (short syntax)."""
    pairs: set[tuple[int, int]] = set()
    for entry in compose()["services"][service].get("ports", []):
        host, _, container = str(entry).rpartition(":")
        pairs.add((int(host), int(container)))
    return pairs


def k8s_manifest_paths() -> list[Path]:
    """Kubernetes resource files (kustomization.yaml and addons/ are not resources)."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_resources() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for path in k8s_manifest_paths():
        resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return resources


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    found = [r for r in k8s_resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name} in {K8S}, found {len(found)}"
    return found[0]


def k8s_container(deployment: str, container: str) -> dict[str, Any]:
    spec = k8s_resource("Deployment", deployment)["spec"]["template"]["spec"]
    found = [c for c in spec["containers"] if c["name"] == container]
    assert len(found) == 1, f"expected container {container} in Deployment {deployment}"
    return found[0]


def deploy_text_files() -> list[Path]:
    """Every text file an operator reads or a build uses: docker/**, the docs, the README."""
    files = [
        p
        for p in DOCKER.rglob("*")
        if p.is_file() and p.suffix != ".json" and "__pycache__" not in p.parts
    ]
    files.append(DOCS)
    readme = REPO / "README.md"
    if readme.exists():
        files.append(readme)
    return sorted(files)
