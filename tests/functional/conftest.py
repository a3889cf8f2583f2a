"""Shared fixtures that start a real Triton server (the CPU tritonserver inside nvidia-pytriton).

Stable interface for other components' functional tests (client, console, gateway):

``triton`` (session scope) -> :class:`TritonHandle`
    A server on free ports, serving a repository built with ``loadcheck repository build``
    from the tiny export-test models (random weights, ``export_tiny_models``), plus one fitted
    and deployed integrator. Fields:

    * ``http_url`` / ``grpc_url``: ``"127.0.0.1:PORT"`` (tritonclient style, no scheme)
    * ``metrics_url``: ``"http://127.0.0.1:PORT/metrics"``
    * ``api_key`` / ``api_key_header``: the key the model-repository and model-config APIs need,
      and its HTTP header name (``loadcheck-api-key``)
    * ``grpc_api_key_header``: the gRPC metadata key for it
      (``triton-grpc-protocol-loadcheck-api-key``: Triton 2.51 adds that prefix on gRPC)
    * ``repository``: the model repository folder
    * ``integrator``: the deployed integrator's name (model ``integrator_<name>``)
    * ``server``: the :class:`loadcheck.serving.server.TritonServer` itself

``tiny_models`` (session scope) -> Path: the folder with the exported tiny ONNX models + cards.
``scene_jpegs`` (session scope) -> list[bytes]: a few synthetic scenes as JPEG files.
``fit_integrator`` (session scope) -> ``fit(repository, name, version=1, seed=0) -> Path``: fits
    an XGBoost score model on synthetic scenes into ``<repository>/scorer_<name>/<version>/``.

The detector of the tiny models has random weights, so the repository is built with a low
confidence threshold and few detections (``serving_helpers.build_repository_for_test``) to exercise
masks and the scorer on every image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serving_helpers import build_repository_for_test, fit_test_integrator

TEST_INTEGRATOR = "site_a"
TEST_API_KEY = "test-key-123"


@dataclass(frozen=True)
class TritonHandle:
    """A running test server; see the module docstring."""

    http_url: str
    grpc_url: str
    metrics_url: str
    api_key: str
    api_key_header: str
    grpc_api_key_header: str
    repository: Path
    integrator: str
    server: object


@pytest.fixture(scope="session")
def fit_integrator() -> Callable[..., Path]:
    """``fit_integrator(repository, name, version=1, seed=0) -> Path`` (see fit_test_integrator)."""
    return fit_test_integrator


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from loadcheck.export.tiny import export_tiny_models

    out = tmp_path_factory.mktemp("tiny_models")
    export_tiny_models(out)
    return out


@pytest.fixture(scope="session")
def scene_jpegs() -> list[bytes]:
    from loadcheck.synth import render_scene

    return [render_scene(7, i, size_wh=(480, 270)).encode_jpeg() for i in range(4)]


@pytest.fixture(scope="session")
def triton(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonHandle]:
    from loadcheck.deploy_constants import API_KEY_HEADER, GRPC_API_KEY_HEADER
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.server import TritonServer

    root = tmp_path_factory.mktemp("triton")
    repository = root / "model_repository"
    build_repository_for_test(tiny_models, repository)
    fit_test_integrator(repository, TEST_INTEGRATOR)
    deploy(repository, TEST_INTEGRATOR, home=root / "no-workspace")
    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        api_key=TEST_API_KEY,
        log_path=root / "tritonserver.log",
        startup_timeout_s=240,
    )
    with server:
        yield TritonHandle(
            http_url=server.http_url,
            grpc_url=server.grpc_url,
            metrics_url=server.metrics_url,
            api_key=TEST_API_KEY,
            api_key_header=API_KEY_HEADER,
            grpc_api_key_header=GRPC_API_KEY_HEADER,
            repository=repository,
            integrator=TEST_INTEGRATOR,
            server=server,
        )
