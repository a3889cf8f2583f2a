"""Which models the server loads at start: the segmentator plus every deployed integrator.

Kept in ``<repository>/loadcheck_deployed.json`` (``{"integrators": ["site_a", ...]}``), written
as a whole by ``loadcheck deploy`` / ``undeploy`` through the repository's storage
(:mod:`loadcheck.serving.storage`), read by :class:`TritonServer` at start.
"""

from __future__ import annotations

import json
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.serving.storage import CONFIG_FILE, ModelRepository, open_repository

STATE_FILE = "loadcheck_deployed.json"


def deployed_integrators(repository: ModelRepository | Path | str) -> list[str]:
    text = open_repository(repository).read_text(STATE_FILE)
    if text is None:
        return []
    return sorted(str(n) for n in json.loads(text).get("integrators", []))


def state_bytes(integrators: list[str]) -> bytes:
    return json.dumps({"integrators": sorted(set(integrators))}, indent=2).encode("utf-8")


def save_deployed(repository: ModelRepository | Path | str, integrators: list[str]) -> None:
    open_repository(repository).write_bytes(STATE_FILE, state_bytes(integrators))


def models_to_load(repository: ModelRepository | Path | str) -> list[str]:
    """Model names for ``--load-model``: the segmentator (if built) and deployed integrators."""
    repo = open_repository(repository)
    names = []
    if repo.exists(f"{tn.SEGMENTATOR_ENSEMBLE}/{CONFIG_FILE}"):
        names.append(tn.SEGMENTATOR_ENSEMBLE)
    for name in deployed_integrators(repo):
        model = tn.integrator_model_name(name)
        if repo.exists(f"{model}/{CONFIG_FILE}"):
            names.append(model)
    return names
