"""The Segmentator page's operations: read and apply the repository settings, reload the
segmentator in Triton, model status, soft and hard undeploy.

Applying settings is ``loadcheck repository build`` with the new settings (every affected config
is regenerated from typed objects) followed by a load request per segmentator model, which makes
Triton reload the models whose files changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import NETWORK_KINDS, load_cards
from loadcheck.pipeline.declaration import SEGMENTATOR_MODELS
from loadcheck.serving.config import parse_config
from loadcheck.serving.deploy import ModelControl, undeploy
from loadcheck.serving.repository import (
    NETWORKS,
    RepositorySettings,
    build_repository,
    read_manifest,
)
from loadcheck.serving.state import deployed_integrators
from loadcheck.serving.storage import CONFIG_FILE, is_object_store, open_repository
from loadcheck.workspace.db import Workspace

LOG = logging.getLogger(__name__)
RELOAD_ORDER: tuple[str, ...] = (*SEGMENTATOR_MODELS, tn.SEGMENTATOR_ENSEMBLE)


@dataclass(frozen=True)
class ModelStatus:
    """One model of the repository as Triton reports it.

    ``state`` is Triton's (``READY``, ``UNAVAILABLE``, ``LOADING``...) or ``NOT LOADED``;
    ``device`` is the instance kind in its config (``cpu``/``gpu``; ``-`` for ensembles).
    """

    name: str
    version: str
    state: str
    device: str
    reason: str = ""


def read_settings(repository: str | Path) -> tuple[RepositorySettings, Path | None]:
    """The settings the repository was last built with and its export folder.

    Raises:
        RepositoryError: the repository has no build manifest (never built).
    """
    manifest = read_manifest(repository)
    return manifest.settings, manifest.export_dir


def export_files(export_dir: Path) -> dict[str, str]:
    """``{network: model file}`` from the model cards in ``export_dir``."""
    networks = load_cards(export_dir)
    return {kind: networks.card(kind).file for kind in NETWORK_KINDS}


def apply_settings(
    workspace: Workspace,
    export_dir: Path,
    repository: str | Path,
    settings: RepositorySettings,
    control: ModelControl | None,
) -> list[str]:
    """Rebuild the segmentator's configs with ``settings`` and reload it on the server, then
    every deployed integrator's scorer and ensemble: the rebuild restages them with the new
    build's id, which their answers' provenance names.

    Returns the builder's notes. Raises :class:`RepositoryError` for unusable settings or
    models (the repository is unchanged then) and tritonclient's errors when a reload fails.
    """
    notes = build_repository(Path(export_dir), repository, settings)
    if control is not None and not is_object_store(repository):  # replicas poll a bucket
        for model in RELOAD_ORDER:
            control.load(model)
        for name in deployed_integrators(repository):
            control.load(tn.scorer_model_name(name))
            control.load(tn.integrator_model_name(name))
    with workspace.transaction() as conn:
        Workspace.audit(
            conn,
            "segmentator-settings",
            None,
            export_dir=str(export_dir),
            settings=settings.to_json(),
        )
    return notes


def model_status(repository: str | Path, control: ModelControl) -> list[ModelStatus]:
    """Every model of the repository index with state, version and configured device."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(control.url, network_timeout=30.0)
    index = client.get_model_repository_index(headers=control.headers)
    out = []
    repo = open_repository(repository)
    for entry in sorted(index, key=lambda e: e["name"]):
        name = str(entry["name"])
        device = "-"
        config = repo.read_text(f"{name}/{CONFIG_FILE}")
        if config is not None:
            parsed = parse_config(config)
            kinds = {str(g.get("kind", "KIND_CPU")) for g in parsed.get("instance_group", [])}
            device = ",".join(sorted(k.removeprefix("KIND_").lower() for k in kinds)) or "-"
        out.append(
            ModelStatus(
                name,
                str(entry.get("version", "")),
                str(entry.get("state") or "NOT LOADED"),
                device,
                str(entry.get("reason", "")),
            )
        )
    return out


def undeploy_segmentator(
    workspace: Workspace, repository: str | Path, control: ModelControl | None, *, hard: bool
) -> list[str]:
    """Soft (refused while integrators are deployed, naming them) or hard (unloads them too)."""
    models = undeploy(repository, tn.SEGMENTATOR_ENSEMBLE, control, force=hard)
    with workspace.transaction() as conn:
        Workspace.audit(conn, "undeploy-segmentator", None, hard=hard, models=models)
    return models


def deploy_segmentator(workspace: Workspace, control: ModelControl) -> None:
    """Load the segmentator (and its models) again after an undeploy."""
    for model in RELOAD_ORDER:
        control.load(model)
    with workspace.transaction() as conn:
        Workspace.audit(conn, "deploy-segmentator", None)


def dependent_integrators(repository: str | Path) -> list[str]:
    return deployed_integrators(repository)


__all__ = [
    "NETWORKS",
    "ModelStatus",
    "apply_settings",
    "dependent_integrators",
    "deploy_segmentator",
    "export_files",
    "model_status",
    "read_settings",
    "undeploy_segmentator",
]
