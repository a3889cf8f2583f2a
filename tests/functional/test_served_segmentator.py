"""ServedSegmentator against a real Triton (the session ``triton`` fixture), and
``loadcheck integrator fit NAME --triton HOST:PORT`` fitting through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from loadcheck.integrators.served import ServedSegmentator, segmentator_config_key
from loadcheck.payloads import TruckMasks

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]


def image_wh(data: bytes) -> tuple[int, int]:
    rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return int(rgb.shape[1]), int(rgb.shape[0])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_segmentator_returns_full_resolution_truck_masks(triton, scene_jpegs, protocol):
    url = triton.http_url if protocol == "http" else triton.grpc_url
    with ServedSegmentator(url, repository=triton.repository, protocol=protocol) as seg:
        assert seg.config_key == segmentator_config_key(triton.repository)
        for data in scene_jpegs:
            detections, masks = seg.segment_raw(data)
            assert len(masks) == len(detections)
            trucks = seg.segment(data)
            assert all(isinstance(t, TruckMasks) for t in trucks)
            assert all(t.resolution_wh == image_wh(data) for t in trucks)


def test_a_non_image_is_refused_with_the_servers_reason(triton):
    from loadcheck.integrators.errors import IntegratorError

    with (
        ServedSegmentator(triton.http_url, repository=triton.repository) as seg,
        pytest.raises(IntegratorError, match="segmentator at"),
    ):
        seg.segment(b"this is not an image")


def loadcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from loadcheck.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_integrator_fit_with_triton_fits_through_the_served_segmentator(triton, tmp_path):
    from loadcheck.synth.dataset import write_dataset

    data = tmp_path / "scenes"
    write_dataset(data, 16, 5, (320, 180), progress=False)
    env = {**os.environ, "LOADCHECK_HOME": str(tmp_path / "ws")}
    env["LOADCHECK_REPOSITORY"] = str(triton.repository)
    name = "served_fit"
    assert loadcheck("integrator", "create", name, env=env).returncode == 0
    added = loadcheck(
        "integrator",
        "add-data",
        name,
        "--qualified",
        str(data / "qualified.zip"),
        "--unqualified",
        str(data / "unqualified.zip"),
        env=env,
    )
    assert added.returncode == 0, added.stderr
    fitted = loadcheck("integrator", "fit", name, "--triton", triton.http_url, "--cv", "0", env=env)
    assert fitted.returncode == 0, fitted.stderr
    summary = json.loads(fitted.stdout)
    assert summary["version"] == 1
    assert summary["features_computed"] == summary["n_samples"] > 0
    meta = json.loads((Path(summary["artifact"]) / "scorer.json").read_text())
    assert meta["mask_source"] == segmentator_config_key(triton.repository)
    again = loadcheck(
        "integrator", "fit", name, "--triton", triton.grpc_url, "--grpc", "--cv", "0", env=env
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["features_cached"] == summary["n_samples"]
    image = next((data / "images").glob("*.jpg"))
    predicted = loadcheck(
        "integrator", "predict", name, str(image), "--triton", triton.http_url, env=env
    )
    assert predicted.returncode == 0, predicted.stderr
    (verdict,) = json.loads(predicted.stdout)
    assert verdict["score_result"] in ("Qualified", "Unqualified", "No Mine Detected")


def test_integrator_fit_with_an_unreachable_triton_fails_with_a_clear_error(triton, tmp_path):
    from loadcheck.synth.dataset import write_dataset

    data = tmp_path / "scenes"
    write_dataset(data, 12, 6, (320, 180), progress=False)
    env = {**os.environ, "LOADCHECK_HOME": str(tmp_path / "ws")}
    env["LOADCHECK_REPOSITORY"] = str(triton.repository)
    loadcheck("integrator", "create", "unreachable", env=env)
    loadcheck(
        "integrator",
        "add-data",
        "unreachable",
        "--qualified",
        str(data / "qualified.zip"),
        "--unqualified",
        str(data / "unqualified.zip"),
        env=env,
    )
    failed = loadcheck("integrator", "fit", "unreachable", "--triton", "127.0.0.1:9", env=env)
    assert failed.returncode == 1
    assert "segmentator at 127.0.0.1:9 failed" in failed.stderr
