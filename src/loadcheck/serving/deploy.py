"""Deploy and undeploy integrators: write their models into the repository, load through Triton.

Repository layout of integrator ``NAME`` (the scorer artifact is written by the integrator fit):

    scorer_NAME/<version>/model.ubj, scorer.json   (integrator store, fitted)
    scorer_NAME/<version>/model.py                 (written here)
    scorer_NAME/config.pbtxt                       (written here; serves exactly <version>)
    integrator_NAME/config.pbtxt, 1/               (written here: segmentator -> scorer_NAME)

Every write goes through the repository's storage (:mod:`loadcheck.serving.storage`, a folder or
``s3://``) as one publish: the version's files, then the configs, then ``loadcheck_deployed.json``
(what the server loads at start). Fits write versions into the repository's folder, or for an
``s3://`` repository into the workspace, from where a deploy publishes the served one.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.pipeline.declaration import SEGMENTATOR_MODELS
from loadcheck.serving import layout
from loadcheck.serving.build_info import BuildInfo, scorer_settings
from loadcheck.serving.config import Device, InstanceGroup, parse_config, render_config
from loadcheck.serving.repository import MANIFEST, read_manifest, write_model
from loadcheck.serving.state import STATE_FILE, deployed_integrators, save_deployed, state_bytes
from loadcheck.serving.storage import (
    CONFIG_FILE,
    LocalRepository,
    ModelRepository,
    open_repository,
)

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


def scorer_versions(repository: ModelRepository | Path | str, name: str) -> list[int]:
    """Versions of ``scorer_<name>`` in ``repository`` (folders with a ``scorer.json``),
    ascending."""
    from loadcheck.scoring.model import METADATA_FILE

    model = tn.scorer_model_name(name)
    keys = open_repository(repository).list_keys(model)
    return sorted(
        {
            int(k.split("/")[1])
            for k in keys
            if k.count("/") == 2 and k.split("/")[1].isdigit() and k.endswith("/" + METADATA_FILE)
        }
    )


def fitted_versions(folder: Path, name: str) -> list[int]:
    """Fitted versions of ``name`` in the local folder integrator fits write into."""
    return scorer_versions(LocalRepository(folder), name)


def workspace_served_version(
    repository: ModelRepository | Path | str, name: str, home: Path | None = None
) -> int | None:
    """The version the workspace serves for ``name`` (after ``loadcheck integrator rollback``),
    or ``None`` when there is no workspace or it does not know ``name``."""
    from loadcheck.workspace.paths import default_home

    home = Path(home) if home is not None else default_home()
    if not home.is_dir():
        return None
    try:
        from loadcheck.integrators.serving import served_version

        return served_version(name, home, open_repository(repository).url)
    except Exception as exc:  # unknown integrator, unreadable workspace: fall back to latest
        LOGGER.debug("no served version of %s in workspace %s: %s", name, home, exc)
        return None


def stage_integrator(
    staged: Path,
    source: ModelRepository,
    name: str,
    version: int,
    instances: int = 1,
    build: BuildInfo | None = None,
) -> None:
    """Write integrator ``name`` serving ``version`` into the staging folder ``staged``: the
    version's files (read from ``source``: the fits' folder, or the repository itself) and its
    ``model.py``, the scorer's config (carrying the repository ``build`` into its answers'
    provenance) and the ``integrator_<name>`` ensemble."""
    scorer = tn.scorer_model_name(name)
    prefix = f"{scorer}/{version}"
    target = staged / prefix
    target.mkdir(parents=True, exist_ok=True)
    for key in source.list_keys(prefix):
        relative = key[len(prefix) + 1 :]
        data = source.read_bytes(key)
        if "/" in relative or relative == "model.py" or data is None:
            continue
        (target / relative).write_bytes(data)
    (target / "model.py").write_text(layout.model_py(), encoding="utf-8")
    config = layout.scorer_config(
        name, InstanceGroup(instances, Device.CPU), (version,), scorer_settings(build)
    )
    (staged / scorer / CONFIG_FILE).write_text(render_config(config), encoding="utf-8")
    write_model(staged, layout.integrator_config(name))


def choose_version(
    repository: ModelRepository, name: str, version: int | None, fitted: Path, home: Path | None
) -> int:
    """The version to serve: ``version``, else the workspace's served one, else the latest."""
    versions = fitted_versions(fitted, name)
    if not versions:
        raise DeployError(
            f"unknown integrator {name!r}: no fitted version in "
            f"{fitted / tn.scorer_model_name(name)} (fit it first)"
        )
    if version is None:
        version = workspace_served_version(repository, name, home)
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise DeployError(f"integrator {name!r} has no version {chosen}; fitted: {versions}")
    return chosen


def write_integrator(
    repository: ModelRepository | Path | str,
    name: str,
    version: int | None = None,
    instances: int | None = None,
    home: Path | None = None,
    *,
    deployed: list[str] | None = None,
) -> int:
    """Publish the scorer's version, config + model.py and the integrator ensemble (and, with
    ``deployed``, the deploy state last); returns the version.

    ``version`` None: the workspace's served version (``home``, default ``$LOADCHECK_HOME``),
    else the latest fitted version. ``instances`` None: the repository build's
    ``scorer_instances`` (1 when the manifest has none). The fitted versions are in the
    repository's folder, or for an ``s3://`` repository in the workspace
    (:func:`~loadcheck.workspace.paths.fitted_models_folder`).
    """
    from loadcheck.workspace.paths import fitted_models_folder

    check_name(name)
    repo = open_repository(repository)
    if not repo.exists(f"{tn.SEGMENTATOR_ENSEMBLE}/{CONFIG_FILE}"):
        raise DeployError(f"{repo.url} has no segmentator; run `loadcheck repository build` first")
    fitted = fitted_models_folder(repo.url, home)
    chosen = choose_version(repo, name, version, fitted, home)
    if instances is None:
        instances = _scorer_instances(repo)
    build = read_manifest(repo).build if repo.exists(MANIFEST) else None
    with repo.staging() as staged:
        stage_integrator(staged, LocalRepository(fitted), name, chosen, instances, build)
        if deployed is not None:
            (staged / STATE_FILE).write_bytes(state_bytes(deployed))
        repo.publish(staged)
    return chosen


def _scorer_instances(repository: ModelRepository) -> int:
    """``scorer_instances`` of the repository's build manifest, else 1."""
    if not repository.exists(MANIFEST):
        return 1
    return int(read_manifest(repository).raw_settings.get("scorer_instances", 1))


def served_scorer_version(repository: ModelRepository | Path | str, name: str) -> int | None:
    """The version ``scorer_<name>``'s config serves (``version_policy``), else the latest
    one in the repository; ``None`` when there is none."""
    repo = open_repository(repository)
    text = repo.read_text(f"{tn.scorer_model_name(name)}/{CONFIG_FILE}")
    versions = scorer_versions(repo, name)
    if text is not None:
        policy = parse_config(text).get("version_policy", {})
        chosen = [int(v) for v in policy.get("specific", {}).get("versions", [])]
        if chosen and chosen[-1] in versions:
            return chosen[-1]
    return versions[-1] if versions else None


def deploy(
    repository: ModelRepository | Path | str,
    name: str,
    version: int | None = None,
    control: ModelControl | None = None,
    home: Path | None = None,
) -> int:
    """Publish integrator ``name`` and, with ``control`` on a local repository, load it on the
    running server. Replicas that poll an ``s3://`` repository load it by themselves."""
    repo = open_repository(repository)
    deployed = sorted({*deployed_integrators(repo), name})
    chosen = write_integrator(repo, name, version, home=home, deployed=deployed)
    if control is not None and repo.local_folder is not None:
        control.load(tn.scorer_model_name(name))  # reloads a changed scorer version
        control.load(tn.integrator_model_name(name))
    LOGGER.info("deployed integrator %s (scorer version %d) to %s", name, chosen, repo.url)
    return chosen


def undeploy(
    repository: ModelRepository | Path | str,
    name: str,
    control: ModelControl | None = None,
    *,
    force: bool = False,
) -> list[str]:
    """Unload an integrator, or the segmentator (refused while integrators use it, unless
    ``force``, which unloads them too). Returns the unloaded model names.

    On an ``s3://`` repository, which replicas poll, an integrator's ensemble is deleted from the
    bucket (its scorer's fitted versions stay); the segmentator cannot be undeployed there.
    """
    repo = open_repository(repository)
    remote = repo.local_folder is None
    deployed = deployed_integrators(repo)
    if name == tn.SEGMENTATOR_ENSEMBLE:
        if remote:
            raise DeployError(
                f"{repo.url} is polled by every replica: undeploying the segmentator would stop "
                "every integrator; undeploy the integrators, or serve another repository"
            )
        if deployed and not force:
            raise DeployError(
                f"the segmentator is used by integrators {deployed}; undeploy them first or "
                "pass --force to unload them all"
            )
        targets = [*deployed, None]
        save_deployed(repo, [])
    else:
        if name not in deployed:
            raise DeployError(f"integrator {name!r} is not deployed; deployed: {deployed}")
        targets = [name]
        if remote:  # the ensemble first: no replica serves a verdict without it
            repo.delete_model(tn.integrator_model_name(name))
        save_deployed(repo, [n for n in deployed if n != name])
    unloaded: list[str] = []
    for target in targets:
        models = (
            [tn.integrator_model_name(target), tn.scorer_model_name(target)]
            if target is not None
            else [tn.SEGMENTATOR_ENSEMBLE, *SEGMENTATOR_MODELS]
        )
        for model in models:
            if control is not None and not remote:
                control.unload(model)
            unloaded.append(model)
    return unloaded
