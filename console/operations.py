"""Integrator actions of the console that combine several library calls: choose the mask source,
deploy / undeploy / roll back on the running server (with the audit log), copy-paste examples.

Fitting, data and settings go straight to :mod:`loadcheck.integrators` (as the CLI does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadcheck import tensor_names as tn
from loadcheck.console.config import ConsoleConfig
from loadcheck.imageio import sha256_bytes
from loadcheck.integrators.errors import IntegratorError
from loadcheck.integrators.fitting import rollback
from loadcheck.integrators.mask_sources import MaskFolder, MaskSource
from loadcheck.integrators.served import ServedSegmentator
from loadcheck.integrators.store import IntegratorStore
from loadcheck.serving.deploy import ModelControl, deploy, undeploy
from loadcheck.serving.state import deployed_integrators
from loadcheck.workspace.db import Workspace

if TYPE_CHECKING:
    from loadcheck.gateway.tokens import IssuedToken, TokenStore


def control_for(config: ConsoleConfig) -> ModelControl:
    return ModelControl(config.triton_url, config.api_key)


def served_segmentator(config: ConsoleConfig) -> ServedSegmentator:
    """The served ``segmentator`` on ``config.triton_url`` (close it after use)."""
    return ServedSegmentator(
        config.triton_url, repository=config.repository, api_key=config.api_key
    )


@contextmanager
def fitting_mask_source(
    store: IntegratorStore, name: str, masks_dir: str, config: ConsoleConfig
) -> Iterator[MaskSource]:
    """Given masks (``masks_dir``, as ``--masks`` of the CLI) or the served segmentator."""
    if masks_dir.strip():
        stems = {r["sha256"]: Path(r["original_name"]).stem for r in store.samples(name)}
        folder = MaskFolder(masks_dir.strip(), stems)
        missing = folder.missing()
        if missing:
            raise IntegratorError(
                f"masks folder {masks_dir}: no <stem>_bed.png / <stem>_load.png for "
                f"{len(missing)} images: {', '.join(missing[:10])}"
            )
        yield folder
        return
    with served_segmentator(config) as served:
        yield served


@contextmanager
def evaluation_mask_source(
    names_data: list[tuple[str, bytes]], masks_dir: str, config: ConsoleConfig
) -> Iterator[MaskSource]:
    """Masks of test images: given masks (by file stem) or the served segmentator."""
    if masks_dir.strip():
        stems = {sha256_bytes(data): Path(name).stem for name, data in names_data}
        yield MaskFolder(masks_dir.strip(), stems)
        return
    with served_segmentator(config) as served:
        yield served


def is_deployed(config: ConsoleConfig, name: str) -> bool:
    return name in deployed_integrators(config.repository)


@dataclass(frozen=True)
class NewToken:
    """A gateway token just issued or rotated (shown once), and whether its hash reached the
    published token source (``publish_error``: why not)."""

    token: IssuedToken
    publish_error: str | None = None


def _publish_tokens(tokens: TokenStore, config: ConsoleConfig) -> str | None:
    """Publish the token hashes to the repository; the error message, or None."""
    from loadcheck.gateway.token_source import publish_tokens
    from loadcheck.serving.storage import StorageError

    try:
        publish_tokens(tokens.all(), config.repository)
    except (StorageError, OSError) as exc:
        return f"publishing the token hashes to {config.repository} failed: {exc}"
    return None


def deploy_integrator(
    store: IntegratorStore, name: str, config: ConsoleConfig
) -> tuple[int, NewToken | None]:
    """Write the served version's scorer and ensemble, load them on Triton, issue the gateway
    token on the first deploy (and publish its hash); returns the deployed version and the new
    token, if one was issued."""
    from loadcheck.gateway.tokens import TokenStore

    cfg = store.get(name)
    if cfg.served_version is None:
        raise IntegratorError(f"integrator {name!r} has no fitted version; fit it first")
    version = deploy(config.repository, name, cfg.served_version, control_for(config))
    tokens = TokenStore(store.ws)
    issued = tokens.ensure(name)
    new = None if issued is None else NewToken(issued, _publish_tokens(tokens, config))
    with store.ws.transaction() as conn:
        Workspace.audit(conn, "deploy", name, version=version)
    return version, new


def rotate_token(store: IntegratorStore, name: str, config: ConsoleConfig) -> NewToken:
    """A new gateway token for ``name`` (the old URL stops working), its hash published."""
    from loadcheck.gateway.tokens import TokenStore

    tokens = TokenStore(store.ws)
    issued = tokens.rotate(name)
    return NewToken(issued, _publish_tokens(tokens, config))


def undeploy_integrator(store: IntegratorStore, name: str, config: ConsoleConfig) -> list[str]:
    models = undeploy(config.repository, name, control_for(config))
    with store.ws.transaction() as conn:
        Workspace.audit(conn, "undeploy", name, models=models)
    return models


def rollback_integrator(
    store: IntegratorStore, name: str, version: int, config: ConsoleConfig
) -> bool:
    """Serve ``version``; when the integrator is deployed, load that version on Triton now.

    Returns whether the running server was updated.
    """
    rollback(store, name, version)
    if is_deployed(config, name):
        deploy(config.repository, name, version, control_for(config))
        return True
    return False


@dataclass(frozen=True)
class Endpoints:
    """Where plants send photos for one integrator, and copy-paste examples."""

    triton_infer_url: str
    legacy_url: str | None
    curl_legacy: str | None
    curl_ready: str
    python: str


def endpoints(
    store: IntegratorStore, name: str, config: ConsoleConfig, token: IssuedToken | None = None
) -> Endpoints:
    """The endpoints of ``name``; the legacy URL only with a ``token`` just issued (tokens are
    stored as hashes and shown once)."""
    model = tn.integrator_model_name(name)
    base = config.public_triton_url.rstrip("/")
    legacy = None if token is None else f"{config.gateway_url.rstrip('/')}{token.path}"
    host = base.split("://", 1)[-1]
    python = (
        "from loadcheck.client import InspectionClient\n\n"
        f'with InspectionClient("{host}") as client:\n'
        f'    result = client.inspect("truck.jpg", integrator="{name}")\n'
        "    print(result.score_result.value, result.probability)\n"
    )
    return Endpoints(
        triton_infer_url=f"{base}/v2/models/{model}/infer",
        legacy_url=legacy,
        curl_legacy=None if legacy is None else f"curl -F image=@truck.jpg {legacy}",
        curl_ready=f"curl -i {base}/v2/models/{model}/ready",
        python=python,
    )
