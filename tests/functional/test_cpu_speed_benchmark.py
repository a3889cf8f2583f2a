"""``benchmarks/cpu_speed.py`` runs end to end at a tiny size: both pipelines on the same photos,
their figures, ratio and the load average."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.triton, pytest.mark.torch, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_cpu_speed_measures_served_and_old_way_on_the_same_photos(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "cpu_speed.py"),
            "--folder", str(tmp_path / "work"),
            "--sam-type", "vit_tiny",
            "--sam-side", "256",
            "--photos", "2",
            "--old-photos", "1",
            "--requests", "2",
            "--concurrency", "1",
            "--json", str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "throughput ratio served / old way" in done.stdout
    result = json.loads(out.read_text())
    (level,) = result["served"]["levels"]
    assert level["failures"] == 0 and level["requests"] == 2
    assert result["old_way"]["sam_img_size"] == 1024 and result["old_way"]["images"] == 1
    assert result["throughput_ratio"] > 0
    assert {"sam_encoder", "sam_decoder", "detector"} <= set(level["per_model"])
    assert "segmentator" not in level["per_model"]
    assert len(result["load_average_before"]) == 3
    exports = tmp_path / "work" / "exports-vit_tiny-256-int8-int8dec"
    for network in ("sam_encoder", "sam_decoder"):  # what the demo ships: both int8
        card = json.loads((exports / f"{network}.onnx.card.json").read_text())
        assert card["dtype"] == "int8", network
