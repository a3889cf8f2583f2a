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


@pytest.mark.torch  # the tiny test models are exported with PyTorch
def test_repository_build_refuses_a_sam_size_other_than_the_export(tiny_models, tmp_path):
    result = _build(tiny_models, tmp_path / "r", "--sam-img-size", "512")
    assert result.returncode == 2
    assert "--sam-img-size 512" in result.stderr


@pytest.mark.torch
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


def _process_table() -> dict[int, tuple[int, str, str]]:
    """Live processes: pid -> (parent pid, start time in clock ticks, command line)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited meanwhile
            continue
        if fields[0] != "Z":  # a zombie has exited; only its exit status is left
            table[int(entry.name)] = (int(fields[1]), fields[19], cmdline)
    return table


def _descendants(pid: int) -> dict[tuple[int, str], str]:
    """Every live descendant of ``pid``: (pid, start time) -> command line. The start time
    tells a process from a later one that reuses its pid."""
    table = _process_table()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, started, cmdline) in table.items():
            if ppid == parent:
                found[(child, started)] = cmdline
                todo.append(child)
    return found


def _still_running(processes: dict[tuple[int, str], str], grace_s: float = 0.0) -> list[str]:
    """Command lines of ``processes`` still running after up to ``grace_s`` seconds."""
    deadline = time.monotonic() + grace_s
    while True:
        table = _process_table()
        running = [
            cmdline
            for (pid, started), cmdline in processes.items()
            if pid in table and table[pid][1] == started
        ]
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.1)


def _infer_segmentator(port: int, data: bytes) -> dict[str, object]:
    import numpy as np
    import tritonclient.http as httpclient

    from loadcheck import tensor_names as tn

    client = httpclient.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=120.0)
    try:
        image = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        image.set_data_from_numpy(np.array([data], np.object_))
        result = client.infer(tn.SEGMENTATOR_ENSEMBLE, [image])
        return {name: result.as_numpy(name) for name in (tn.BOXES_XYXY, tn.MASKS)}
    finally:
        client.close()


@pytest.mark.triton
@pytest.mark.torch
def test_serve_answers_a_photo_and_leaves_no_tritonserver_after_sigterm(tiny_models, tmp_path):
    from loadcheck import tensor_names as tn
    from loadcheck.synth import render_scene

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
    started: dict[tuple[int, str], str] = {}
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
        started = _descendants(process.pid)
        assert any("tritonserver" in cmdline for cmdline in started.values()), started
        assert any("triton_python_backend_stub" in cmdline for cmdline in started.values())

        photo = render_scene(7, 0, size_wh=(480, 270)).encode_jpeg()
        answer = _infer_segmentator(port, photo)
        boxes, masks = answer[tn.BOXES_XYXY], answer[tn.MASKS]
        assert 1 <= len(boxes) <= 4, "the tiny detector finds trucks; --max-det 4 caps them"
        assert boxes.shape[1:] == (4,)
        assert masks.shape == (len(boxes), 270, 480), "one full-resolution mask per box"

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        left = _still_running(started, grace_s=5.0)  # the stubs exit with tritonserver
        for pid, began in started:  # clean up after a failure: only what this test started
            if _still_running({(pid, began): ""}):
                os.kill(pid, signal.SIGKILL)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert f"HTTP port {port}" in text
    assert not left, f"still running after loadcheck serve exited: {left}"
