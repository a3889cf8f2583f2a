"""Two real ``loadcheck gateway`` processes reading one published token source (a folder and a
moto S3 bucket) in front of a real Triton: both answer a token; after a rotation, published by
the console's code path, the old token answers 404 on both and the new one 200. Neither gateway
has a workspace."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from s3_server import free_port

from loadcheck.gateway.token_source import publish_tokens
from loadcheck.gateway.tokens import TokenStore, legacy_path
from loadcheck.workspace import Workspace

pytestmark = [pytest.mark.triton, pytest.mark.torch]

MAX_AGE_S = 1.0


@pytest.fixture(params=["folder", "s3"])
def token_repository(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the console publishes the token hashes: a folder or ``s3://models-N/repo``."""
    if request.param == "folder":
        folder = tmp_path / "repository"
        folder.mkdir()
        return str(folder)
    bucket = request.getfixturevalue("new_bucket")
    return f"s3://{bucket}/repo"


def _start_gateway(triton_url: str, repository: str, home: Path, log: Path) -> tuple[Any, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from loadcheck.cli import main; main()",
        "gateway",
        "--triton",
        triton_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tokens-from",
        repository,
        "--tokens-max-age",
        str(MAX_AGE_S),
        "--home",
        str(home),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(proc: Any, base: str, log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gateway not healthy after {timeout_s:.0f} s: {log.read_text()[-2000:]}")


@pytest.fixture
def gateways(
    triton: Any, token_repository: str, tmp_path: Path
) -> Iterator[tuple[list[str], Path]]:
    """Two gateways on ``token_repository``; also the ``--home`` they were given (never made)."""
    home = tmp_path / "gateway-home-never-created"
    started = [
        _start_gateway(triton.http_url, token_repository, home, tmp_path / f"gateway-{i}.log")
        for i in range(2)
    ]
    try:
        for i, (proc, base) in enumerate(started):
            _wait_healthy(proc, base, tmp_path / f"gateway-{i}.log")
        yield [base for _, base in started], home
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _status(base: str, token: str, jpeg: bytes) -> int:
    files = {"image": ("truck.jpg", jpeg, "image/jpeg")}
    return httpx.post(base + legacy_path(token), files=files, timeout=120).status_code


def _until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


def test_two_gateways_on_one_published_source_follow_a_rotation(
    triton: Any,
    token_repository: str,
    gateways: tuple[list[str], Path],
    scene_jpegs: list[bytes],
    tmp_path: Path,
) -> None:
    bases, gateway_home = gateways
    jpeg = min(scene_jpegs, key=len)
    console = TokenStore(Workspace(tmp_path / "console-home"))
    old = console.issue(triton.integrator).token
    publish_tokens(console.all(), token_repository)
    # published after the gateways started: they pick it up within their cache interval
    _until(
        lambda: [_status(b, old, jpeg) for b in bases] == [200, 200],
        "both gateways answer the published token",
    )

    new = console.rotate(triton.integrator).token
    publish_tokens(console.all(), token_repository)
    _until(
        lambda: [_status(b, old, jpeg) for b in bases] == [404, 404],
        "the rotated token refused by both gateways",
    )
    assert [_status(b, new, jpeg) for b in bases] == [200, 200]
    assert not gateway_home.exists()  # no workspace, no SQLite file on the gateways' side
