"""benchmarks/segmenter_verdicts.py: the rim error, CLI errors, a real run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("segmenter_verdicts")


def test_rim_error_is_the_rim_lines_gap_in_true_bed_heights(bench: ModuleType) -> None:
    truth = np.zeros((60, 80), bool)
    truth[20:40, 10:70] = True  # rim at row 20, floor at row 39: 20 rows high
    heaped = truth.copy()
    heaped[15:20, 10:70] = True  # the bed followed a heap 5 rows above the rim
    assert bench.rim_error(truth, truth) == pytest.approx(0.0)
    assert bench.rim_error(heaped, truth) == pytest.approx(5 / 20)
    assert bench.rim_error(np.zeros_like(truth), truth) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/nonexistent/segmenter.pth"], "checkpoint"),
        (["{ckpt}", "--test-seed", "1"], "--test-seed"),
        (["{ckpt}", "--fit-count", "0"], "--fit-count"),
    ],
)
def test_bad_arguments_exit_with_status_two(
    bench: ModuleType,
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ckpt = tmp_path / "segmenter.pth"
    ckpt.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        bench.main([a.format(ckpt=ckpt) for a in argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.torch
def test_a_checkpoint_is_scored_end_to_end_and_writes_its_json(
    bench: ModuleType, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from loadcheck.export.tiny import build_tiny_sam_checkpoint

    ckpt = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    out = tmp_path / "scores.json"
    bench.main(
        [
            *(str(ckpt), "--img-size", "64", "--fit-count", "16", "--test-count", "6"),
            *("--cache", str(tmp_path / "cache"), "--json", str(out)),
        ]
    )
    result = json.loads(out.read_text())
    verdict = result["verdict"]
    assert verdict["n"] == 6
    assert verdict["ci95"][0] <= verdict["accuracy"] <= verdict["ci95"][1]
    assert result["fit"] == {"seed": 1, "count": 16}
    for key in ("rim_error", "bed_iou", "load_iou"):
        assert result[key] is None or result[key] >= 0.0
