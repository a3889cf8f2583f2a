"""Deploy and undeploy integrators: write their models into the repository, load through Triton.

Repository layout of integrator ``NAME`` (the scorer artifact is written by the integrator fit):

    scorer_NAME/<version>/model.ubj, scorer.json   (integrator store, fitted)
    scorer_NAME/<version>/model.py                 (written here)
    scorer_NAME/config.pbtxt                       (written here; serves exactly <version>)
    integrator_NAME/config.pbtxt, 1/               (written here: segmentator -> scorer_NAME)

Every file is written atomically; ``loadcheck_deployed.json`` lists what the server loads at start.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.atomic import atomic_write_text
from loadcheck.pipeline.declaration import SEGMENTATOR_MODELS
from loadcheck.serving import layout
from loadcheck.serving.config import Device, InstanceGroup, parse_config, render_config
from loadcheck.serving.repository import write_model
from loadcheck.serving.state import deployed_integrators, save_deployed

LOGGER = logging.getLogger(__name__)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class DeployError(ValueError):
    """The integrator cannot be deployed or undeployed; the message says why."""


@dataclass(frozen=True)
class ModelControl:
    """Triton's model-control API over HTTP (``url`` as ``host:port``), with the API key header."""

    url: str
    api_key: str | None = None

    def _client(self):  # type: ignore[no-untyped-def]
        import tritonclient.http as httpclient

        return httpclient.InferenceServerClient(self.url, network_timeout=300.0)

    @property
    def headers(self) -> dict[str, str] | None:
        from loadcheck.deploy_constants import API_KEY_HEADER

        return {API_KEY_HEADER: self.api_key} if self.api_key else None

    def load(self, model: str) -> None:
        self._client().load_model(model, headers=self.headers)

    def unload(self, model: str, timeout_s: float = 60.0) -> None:
        """Unload ``model`` and wait until Triton has finished unloading it."""
        client = self._client()
        client.unload_model(model, headers=self.headers)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = {
                m["name"]: m.get("state", "")
                for m in client.get_model_repository_index(headers=self.headers)
            }
            if states.get(model) != "UNLOADING":
                return
            time.sleep(0.2)
        raise DeployError(f"{model} still unloading after {timeout_s:.0f} s")

    def is_ready(self, model: str) -> bool:
        return bool(self._client().is_model_ready(model))


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise DeployError(
            f"integrator name {name!r}: expected lowercase letters, digits, '_' or '-' "
            "(at most 63 characters, starting with a letter or digit)"
        )
    return name


def scorer_versions(repository: Path, name: str) -> list[int]:
    """Fitted versions of ``scorer_<name>`` (folders with a ``scorer.json``), ascending."""
    from loadcheck.scoring.model import METADATA_FILE

    root = repository / tn.scorer_model_name(name)
    if not root.is_dir():
        return []
    return sorted(
        int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / METADATA_FILE).is_file()
    )


def workspace_served_version(repository: Path, name: str, home: Path | None = None) -> int | None:
    """The version the workspace serves for ``name`` (after ``loadcheck integrator rollback``),
    or ``None`` when there is no workspace or it does not know ``name``."""
    from loadcheck.workspace.paths import default_home

    home = Path(home) if home is not None else default_home()
    if not home.is_dir():
        return None
    try:
        from loadcheck.integrators.serving import served_version

        return served_version(name, home, repository)
    except Exception as exc:  # unknown integrator, unreadable workspace: fall back to latest
        LOGGER.debug("no served version of %s in workspace %s: %s", name, home, exc)
        return None


def write_integrator(
    repository: Path,
    name: str,
    version: int | None = None,
    instances: int = 1,
    home: Path | None = None,
) -> int:
    """Write the scorer's config + model.py and the integrator ensemble; returns the version.

    ``version`` None: the workspace's served version (``home``, default ``$LOADCHECK_HOME``),
    else the latest fitted version in the repository.
    """
    check_name(name)
    if not (repository / tn.SEGMENTATOR_ENSEMBLE / "config.pbtxt").is_file():
        raise DeployError(
            f"{repository} has no segmentator; run `loadcheck repository build` first"
        )
    versions = scorer_versions(repository, name)
    if not versions:
        raise DeployError(
            f"unknown integrator {name!r}: no fitted version in "
            f"{repository / tn.scorer_model_name(name)} (fit it first)"
        )
    if version is None:
        version = workspace_served_version(repository, name, home)
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise DeployError(f"integrator {name!r} has no version {chosen}; fitted: {versions}")
    root = repository / tn.scorer_model_name(name)
    atomic_write_text(root / str(chosen) / "model.py", layout.model_py())
    config = layout.scorer_config(name, InstanceGroup(instances, Device.CPU), (chosen,))
    atomic_write_text(root / "config.pbtxt", render_config(config))
    write_model(repository, layout.integrator_config(name))
    return chosen


def served_scorer_version(repository: Path, name: str) -> int | None:
    """The version ``scorer_<name>``'s config serves (``version_policy``), else the latest
    fitted one; ``None`` when nothing is fitted."""
    path = repository / tn.scorer_model_name(name) / "config.pbtxt"
    versions = scorer_versions(repository, name)
    if path.is_file():
        policy = parse_config(path.read_text(encoding="utf-8")).get("version_policy", {})
        chosen = [int(v) for v in policy.get("specific", {}).get("versions", [])]
        if chosen and chosen[-1] in versions:
            return chosen[-1]
    return versions[-1] if versions else None


def deploy(
    repository: Path,
    name: str,
    version: int | None = None,
    control: ModelControl | None = None,
    home: Path | None = None,
) -> int:
    """Write integrator ``name`` and, with ``control``, load it on the running server."""
    chosen = write_integrator(repository, name, version, home=home)
    save_deployed(repository, [*deployed_integrators(repository), name])
    if control is not None:
        control.load(tn.scorer_model_name(name))  # reloads a changed scorer version
        control.load(tn.integrator_model_name(name))
    LOGGER.info("deployed integrator %s (scorer version %d)", name, chosen)
    return chosen


def undeploy(
    repository: Path, name: str, control: ModelControl | None = None, *, force: bool = False
) -> list[str]:
    """Unload an integrator, or the segmentator (refused while integrators use it, unless
    ``force``, which unloads them too). Returns the unloaded model names."""
    deployed = deployed_integrators(repository)
    if name == tn.SEGMENTATOR_ENSEMBLE:
        if deployed and not force:
            raise DeployError(
                f"the segmentator is used by integrators {deployed}; undeploy them first or "
                "pass --force to unload them all"
            )
        targets = [*deployed, None]
        save_deployed(repository, [])
    else:
        if name not in deployed:
            raise DeployError(f"integrator {name!r} is not deployed; deployed: {deployed}")
        targets = [name]
        save_deployed(repository, [n for n in deployed if n != name])
    unloaded: list[str] = []
    for target in targets:
        models = (
            [tn.integrator_model_name(target), tn.scorer_model_name(target)]
            if target is not None
            else [tn.SEGMENTATOR_ENSEMBLE, *SEGMENTATOR_MODELS]
        )
        for model in models:
            if control is not None:
                control.unload(model)
            unloaded.append(model)
    return unloaded
