"""``loadcheck repository build`` and ``loadcheck serve`` as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from loadcheck.serving.server import free_port

pytestmark = [pytest.mark.triton]
LOADCHECK = [str(Path(sys.executable).parent / "loadcheck")]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOADCHECK, *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_repository_build_refuses_a_folder_without_model_cards(tmp_path: Path):
    result = _run(
        "repository", "build", "--models", str(tmp_path), "--repository", str(tmp_path / "r")
    )
    assert result.returncode == 2
    assert "no model card" in result.stderr


def test_repository_build_refuses_a_sam_size_other_than_the_export(tiny_models, tmp_path):
    result = _run(
        "repository",
        "build",
        "--models",
        str(tiny_models),
        "--repository",
        str(tmp_path / "r"),
        "--sam-img-size",
        "512",
    )
    assert result.returncode == 2
    assert "--sam-img-size 512" in result.stderr


def test_serve_starts_answers_and_stops_cleanly_on_sigterm(tiny_models, tmp_path):
    repository = tmp_path / "model_repository"
    built = _run(
        "repository",
        "build",
        "--models",
        str(tiny_models),
        "--repository",
        str(repository),
        "--runtime",
        "python-onnxruntime",
        "--conf-thres",
        "0.3",
        "--max-det",
        "4",
    )
    assert built.returncode == 0, built.stderr
    assert (repository / "segmentator" / "config.pbtxt").is_file()
    port = free_port()
    process = subprocess.Popen(
        [
            *LOADCHECK,
            "serve",
            "--repository",
            str(repository),
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--grpc-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--api-key",
            "k",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 240
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5):
                    ready = True
                    break
            except OSError:
                time.sleep(0.5)
        assert ready, "loadcheck serve did not become ready"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert f"HTTP port {port}" in text
