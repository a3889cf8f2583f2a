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


def _build(models: Path, repository: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return _run(
        "repository", "build", "--models", str(models), "--repository", str(repository), *options
    )


def test_repository_build_refuses_a_folder_without_model_cards(tmp_path: Path):
    result = _build(tmp_path, tmp_path / "r")
    assert result.returncode == 2
    assert "no model card" in result.stderr


def test_repository_build_refuses_a_sam_size_other_than_the_export(tiny_models, tmp_path):
    result = _build(tiny_models, tmp_path / "r", "--sam-img-size", "512")
    assert result.returncode == 2
    assert "--sam-img-size 512" in result.stderr


def test_repository_rebuild_brings_deployed_integrators_up_to_the_generated_configs(
    tiny_models, tmp_path, fit_integrator
):
    from loadcheck import tensor_names as tn
    from loadcheck.serving import layout
    from loadcheck.serving.config import parse_config, render_config

    repository = tmp_path / "r"
    scorer = repository / tn.scorer_model_name("north_pit")
    ensemble = repository / tn.integrator_model_name("north_pit")
    fit_integrator(repository, "north_pit", version=3)
    old_model_py = "from loadcheck.serving.backends.scorer import TritonPythonModel\n"
    (scorer / "3" / "model.py").write_text(old_model_py, encoding="utf-8")  # an older layout
    (scorer / "config.pbtxt").write_text('name: "scorer_north_pit"\n', encoding="utf-8")
    ensemble.mkdir()
    stale = 'name: "integrator_north_pit"\nplatform: "ensemble"\n'  # an older layout's steps
    (ensemble / "config.pbtxt").write_text(stale, encoding="utf-8")
    fitted = sorted(p.name for p in (scorer / "3").iterdir())

    result = _build(tiny_models, repository, "--mask-refine-radius", "2.5")
    assert result.returncode == 0, result.stderr
    written = (ensemble / "config.pbtxt").read_text(encoding="utf-8")
    assert written == render_config(layout.integrator_config("north_pit"))
    steps = parse_config(written)["ensemble_scheduling"]["step"]
    assert [s["model_name"] for s in steps] == [tn.SEGMENTATOR_ENSEMBLE, "scorer_north_pit"]
    assert (scorer / "3" / "model.py").read_text(encoding="utf-8") == layout.model_py()
    assert parse_config((scorer / "config.pbtxt").read_text(encoding="utf-8"))["version_policy"]
    assert sorted(p.name for p in (scorer / "3").iterdir()) == fitted  # the fit is untouched
    masks = (repository / tn.MASKS_MODEL / "config.pbtxt").read_text(encoding="utf-8")
    assert 'string_value: "2.5"' in masks


def test_serve_starts_answers_and_stops_cleanly_on_sigterm(tiny_models, tmp_path):
    repository = tmp_path / "model_repository"
    built = _build(
        tiny_models,
        repository,
        *("--runtime", "python-onnxruntime", "--conf-thres", "0.3", "--max-det", "4"),
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
