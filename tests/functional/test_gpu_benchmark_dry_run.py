"""``benchmarks/gpu/bench_gpu.py --cpu``: the GPU benchmark's driver end to end on the CPU with
tiny models (cards resized from the templates, python-torch repositories, the bundled server, the
project's load generator instead of perf_analyzer), so that the prepared GPU run only meets the
GPU for the first time, not the script."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.triton, pytest.mark.torch, pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "bench_gpu.py"


def test_the_gpu_benchmark_dry_run_serves_both_paths_and_compares_with_naive(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--cpu", "--out", str(tmp_path / "work"),
            "--results", str(out),
            "--variants", "naive,fused", "--concurrency", "1", "--requests", "2",
            "--photos", "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["path"], r["variant"]) for r in rows} == {
        (p, v) for p in ("whole-256", "crop-256") for v in ("naive", "fused")
    }
    assert all(float(r["throughput_img_s"]) > 0 for r in rows)
    result = json.loads((out / "result.json").read_text())
    for name in ("whole-256-fused", "crop-256-fused"):
        parity = result["mask_iou_vs_naive"][name]
        assert parity["naive_mask_pixels"] > 0, "the photos must give SAM boxes to segment"
        assert parity["min"] > 0.99  # fp32 on the CPU: fused attention and fused SAM agree
    assert "x naive" in done.stdout and "target whole-256" in done.stdout
    assert result["skipped_for_time"] == []
    card = json.loads(
        (tmp_path / "work" / "exports-256" / "sam_encoder.onnx.card.json").read_text()
    )
    assert card["extra"]["python_torch_only"] is True
