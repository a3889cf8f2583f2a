"""Which models the server loads at start: the segmentator plus every deployed integrator.

Kept in ``<repository>/loadcheck_deployed.json`` (``{"integrators": ["site_a", ...]}``), written
atomically by ``loadcheck deploy`` / ``undeploy``, read by :class:`TritonServer` at start.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from loadcheck import tensor_names as tn

STATE_FILE = "loadcheck_deployed.json"


def deployed_integrators(repository: Path) -> list[str]:
    path = Path(repository) / STATE_FILE
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return sorted(str(n) for n in data.get("integrators", []))


def save_deployed(repository: Path, integrators: list[str]) -> None:
    path = Path(repository) / STATE_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{STATE_FILE}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"integrators": sorted(set(integrators))}, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    Path(tmp).replace(path)


def models_to_load(repository: Path) -> list[str]:
    """Model names for ``--load-model``: the segmentator (if built) and deployed integrators."""
    names = []
    if (Path(repository) / tn.SEGMENTATOR_ENSEMBLE / "config.pbtxt").is_file():
        names.append(tn.SEGMENTATOR_ENSEMBLE)
    for name in deployed_integrators(repository):
        model = tn.integrator_model_name(name)
        if (Path(repository) / model / "config.pbtxt").is_file():
            names.append(model)
    return names
