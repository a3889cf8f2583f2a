"""Two real tritonservers in poll mode on an s3:// repository held by moto's S3 server: a deploy
made through deploy()'s publish is served by both, deploying another version (a roll back)
reaches both, a rebuild of the segmentator reaches both, an interrupted publish never loads, an
undeploy removes it from both. ``loadcheck deploy|undeploy --wait`` returns only once both serve
the new state, and names a replica that does not follow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result
from s3_server import MotoServer, free_port
from serving_helpers import build_repository_for_test, fit_version
from typer.testing import CliRunner

from loadcheck import tensor_names as tn
from loadcheck.cli import app
from loadcheck.serving.deploy import deploy
from loadcheck.serving.server import TritonServer
from loadcheck.serving.storage import open_repository
from loadcheck.serving.storage_s3 import S3Repository
from loadcheck.workspace.paths import FITTED_FOLDER

pytestmark = [pytest.mark.triton, pytest.mark.torch, pytest.mark.slow]

NAME = "site_a"
THRESHOLDS = {1: 0.25, 2: 0.75}  # each version says which one answered
POLL_SECS = 1


class InterruptedPublishError(Exception):
    """Stands for a publisher killed mid-way."""


def _threshold(url: str, model: str, jpeg: bytes) -> float | None:
    """The THRESHOLD ``model`` answers with, or None while it is not served."""
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url)
    try:
        if not client.is_model_ready(model):
            return None
        inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        inp.set_data_from_numpy(np.array([jpeg], np.object_))
        result = client.infer(model, [inp])
        return float(result.as_numpy(tn.THRESHOLD)[0])
    except InferenceServerException:
        return None
    finally:
        client.close()


def _version_ready(url: str, model: str, version: str) -> bool:
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url)
    try:
        return bool(client.is_model_ready(model, version))
    except InferenceServerException:
        return False
    finally:
        client.close()


def _until(check: Callable[[], bool], what: str, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


@pytest.fixture
def bucket_repository(
    s3_env: MotoServer, new_bucket: str, tiny_models: Path, tmp_path: Path, fit_integrator
) -> str:
    url = f"s3://{new_bucket}/repository"
    build_repository_for_test(tiny_models, url)  # type: ignore[arg-type]
    fitted = tmp_path / "home" / FITTED_FOLDER
    for version, threshold in THRESHOLDS.items():
        fit_version(fit_integrator, fitted, NAME, version, threshold)
    return url


@pytest.fixture
def replicas(bucket_repository: str, tmp_path: Path) -> Iterator[list[TritonServer]]:
    servers = [
        TritonServer(
            bucket_repository,
            http_port=0,
            grpc_port=0,
            metrics_port=0,
            poll_secs=POLL_SECS,
            log_path=tmp_path / f"tritonserver-{i}.log",
            startup_timeout_s=300,
        )
        for i in range(2)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_two_replicas_polling_a_bucket_follow_deploy_rollback_rebuild_and_undeploy(
    bucket_repository: str,
    replicas: list[TritonServer],
    scene_jpegs,
    tmp_path: Path,
    tiny_models: Path,
):
    home = tmp_path / "home"
    integrator = tn.integrator_model_name(NAME)
    jpeg = scene_jpegs[1]
    urls = [server.http_url for server in replicas]
    where = [
        "--repository",
        bucket_repository,
        "--wait",
        "--replica",
        urls[0],
        "--replica",
        urls[1],
    ]

    def served(threshold: float | None) -> Callable[[], bool]:
        def check() -> bool:
            answers = [_threshold(url, integrator, jpeg) for url in urls]
            if threshold is None:
                return answers == [None, None]
            return all(a is not None and abs(a - threshold) < 1e-6 for a in answers)

        return check

    _until(served(None), "no integrator served before the deploy")
    deploy(bucket_repository, NAME, version=1, home=home)
    _until(served(THRESHOLDS[1]), "version 1 served by both replicas", 300)

    # `loadcheck deploy --wait` returns only once both replicas serve the version: checked at once
    for version in (2, 1):  # another version, then the roll back
        waited = _cli(home, "deploy", NAME, "--version", str(version), *where)
        assert waited.exit_code == 0, waited.output
        assert served(THRESHOLDS[version])(), f"--wait returned before both served {version}"
        for url in urls:
            assert f"{url}: {NAME} serving scorer version {version}" in waited.output

    # a rebuild publishes new versions pinned by their configs; both replicas switch to them
    build_repository_for_test(tiny_models, bucket_repository, max_det=4)  # type: ignore[arg-type]
    _until(
        lambda: all(_version_ready(url, tn.DETECTOR_MODEL, "2") for url in urls),
        "the rebuilt detector (version 2) served by both replicas",
    )
    _until(served(THRESHOLDS[1]), "the integrator served through the rebuilt segmentator")

    # a publish killed after the version's files and before its configs: never loaded
    repo = open_repository(bucket_repository)
    assert isinstance(repo, S3Repository)
    uploaded: list[str] = []

    def killed_before_configs(key: str) -> None:
        uploaded.append(key)
        if key.endswith("/model.py"):
            raise InterruptedPublishError(key)

    repo.on_put = killed_before_configs
    other = "site_b"
    fit_version(lambda r, n, **kw: _copy_fit(home, r, n, **kw), home / FITTED_FOLDER, other, 1, 0.5)
    with pytest.raises(InterruptedPublishError):
        deploy(repo, other, home=home)
    assert not any(k.endswith("config.pbtxt") for k in uploaded)
    time.sleep(5 * POLL_SECS)
    for url in urls:
        assert _threshold(url, tn.integrator_model_name(other), jpeg) is None
        assert _threshold(url, integrator, jpeg) == pytest.approx(THRESHOLDS[1])

    waited = _cli(home, "undeploy", NAME, *where)
    assert waited.exit_code == 0, waited.output
    assert served(None)(), "--wait returned before both replicas dropped the integrator"

    # a replica that does not follow (nothing listens there) is named when the time is up
    dead = f"127.0.0.1:{free_port()}"
    lagging = _cli(
        home,
        "deploy",
        NAME,
        "--version",
        "2",
        "--repository",
        bucket_repository,
        "--wait",
        "--replica",
        urls[0],
        "--replica",
        dead,
        "--wait-timeout",
        "20",
    )
    assert lagging.exit_code == 1, lagging.output
    error = lagging.output.split("error: ", 1)[1]
    assert error.startswith(
        f"1 of 2 replicas did not reach '{NAME} serving scorer version 2' within 20 s"
    )
    assert f"{dead} (unreachable" in error and urls[0] not in error
    assert f"{urls[0]}: {NAME} serving scorer version 2" in lagging.output


def _cli(home: Path, *args: str) -> Result:
    """``loadcheck ARGS`` in this process, with the fits of ``home``."""
    return CliRunner().invoke(app, list(args), env={"LOADCHECK_HOME": str(home)})


def _copy_fit(home: Path, repository: Path, name: str, version: int = 1, seed: int = 0) -> Path:
    """fit_integrator for a second name: the version of site_a copied (same scorer)."""
    import shutil

    source = home / FITTED_FOLDER / tn.scorer_model_name(NAME) / str(version)
    target = repository / tn.scorer_model_name(name) / str(version)
    shutil.copytree(source, target)
    return target
