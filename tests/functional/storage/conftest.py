"""``s3_server`` (session): a moto S3 server on 127.0.0.1; ``s3_env``: its endpoint and
credentials in the environment; ``repository_at``: the same tests on a folder and on S3."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from s3_server import CREDENTIALS, MotoServer

from loadcheck.serving.storage import ModelRepository, open_repository

_BUCKETS = itertools.count()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("LOADCHECK_S3_ENDPOINT_URL", s3_server.endpoint_url)
    return s3_server


@pytest.fixture
def new_bucket(s3_env: MotoServer) -> str:
    name = f"models-{next(_BUCKETS)}"
    s3_env.create_bucket(name)
    return name


@pytest.fixture(params=["folder", "s3"])
def repository_at(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], ModelRepository]:
    """``repository_at()``: a fresh repository, a folder or ``s3://models-N/repo``."""
    if request.param == "folder":
        return lambda: open_repository(tmp_path / "repository")
    bucket = request.getfixturevalue("new_bucket")
    return lambda: open_repository(f"s3://{bucket}/repo")
