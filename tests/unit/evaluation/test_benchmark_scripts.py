"""benchmarks/*.py: every script answers --help, bad arguments exit 2 naming the option, and the
evaluation scripts run end to end on the tiny models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
SIZE = ("--size", "320x180")


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_answers_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_no_benchmark_script_edits_the_import_path_or_imports_another() -> None:
    for name in SCRIPTS:
        text = (BENCHMARKS / f"{name}.py").read_text(encoding="utf-8")
        assert "sys.path" not in text, name
        assert not any(f"import {other}" in text or f"from {other} " in text for other in SCRIPTS)


@pytest.mark.parametrize(
    ("name", "argv", "message"),
    [
        ("eval_demo_models", ["--count", "0"], "--count"),
        ("eval_demo_models", ["--size", "5x5"], "--size"),
        ("eval_demo_models", ["--frame", "half"], "--frame"),
        ("eval_demo_models", ["--eval-conf", "2"], "--eval-conf"),
        ("eval_demo_models", ["--models", "/nonexistent/models"], "--models"),
        ("eval_demo_models", ["--mask-refine-radius", "-1"], "--mask-refine-radius"),
        ("verdict_oracles", ["--fit-count", "0"], "--fit-count"),
        ("verdict_oracles", ["--test-seed", "1"], "--test-seed"),
        ("verdict_oracles", ["--test-seed", "2,1"], "--test-seed"),
        ("verdict_oracles", ["--test-seed", "2,2"], "--test-seed"),
        ("verdict_oracles", ["--test-seed", "-3"], "--test-seed"),
        ("verdict_oracles", ["--test-seed", "2,x"], "--test-seed"),
        ("verdict_oracles", ["--size", "5x5"], "--size"),
        ("verdict_oracles", ["--fit-count", "10", "--fit-curve", "5,20"], "--fit-curve"),
        ("verdict_oracles", ["--fit-curve", "200,x"], "--fit-curve"),
        ("verdict_oracles", ["--models", "/nonexistent/models"], "--models"),
        ("verdict_oracles", ["--compare", "/nonexistent/run.json"], "--compare"),
        ("sam_verdicts", ["/nonexistent/sam.pth"], "checkpoint"),
        ("sam_verdicts", ["{file}", "--test-seed", "1"], "--test-seed"),
        ("sam_verdicts", ["{file}", "--fit-count", "0"], "--fit-count"),
    ],
)
def test_bad_arguments_exit_with_status_two_naming_the_option(
    benchmark: Callable[[str], ModuleType],
    tmp_path: Path,
    name: str,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = tmp_path / "sam.pth"
    file.write_bytes(b"")
    progress = ["--no-progress"] if name != "sam_verdicts" else []
    with pytest.raises(SystemExit) as exit_info:
        benchmark(name).main([*(a.format(file=file) for a in argv), *progress])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.torch
def test_eval_demo_models_runs_on_the_tiny_models_and_writes_its_json(
    benchmark: Callable[[str], ModuleType], tiny_models: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval.json"
    benchmark("eval_demo_models").main(
        [
            *("--models", str(tiny_models), "--count", "2", *SIZE),
            *("--cache", str(tmp_path / "cache"), "--json", str(out), "--no-progress"),
            *("--demo-report", str(tmp_path / "absent.json")),
        ]
    )
    result = json.loads(out.read_text())
    assert result["cards"]["detector"]["file"] == "detector.onnx"
    assert result["detector"]["per_class"]["bed"]["n_true"] >= 2
    assert 0.0 <= result["detector"]["map"] <= 1.0
    crop = result["masks"]["mean_iou"]["crop"]["true_boxes"]["bed"]
    assert crop["n"] == result["detector"]["per_class"]["bed"]["n_true"]
    assert 0.0 <= crop["mean"] <= 1.0
    assert result["verdict"] is None


@pytest.mark.torch
def test_verdict_oracles_runs_on_the_tiny_models_and_compares_with_an_earlier_run(
    benchmark: Callable[[str], ModuleType], tiny_models: Path, tmp_path: Path
) -> None:
    out = tmp_path / "oracles.json"
    argv = [
        *("--models", str(tiny_models), "--fit-count", "12", "--test-count", "3", *SIZE),
        *("--cache", str(tmp_path / "cache"), "--no-progress", "--threads", "1"),
    ]
    first = benchmark("verdict_oracles").main([*argv, "--json", str(out)])
    assert first["accuracy"]["served"]["n"] == 3
    assert json.loads(out.read_text())["served_right"] == first["served_right"]
    again = benchmark("verdict_oracles").main([*argv, "--compare", str(out)])
    assert again["comparison"]["gained"] == again["comparison"]["lost"] == 0


@pytest.mark.torch
def test_sam_verdicts_scores_a_checkpoint_and_writes_its_json(
    benchmark: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    from loadcheck.export.tiny import build_tiny_sam_checkpoint

    checkpoint = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    out = tmp_path / "scores.json"
    benchmark("sam_verdicts").main(
        [
            *(str(checkpoint), "--img-size", "64", "--fit-count", "16", "--test-count", "6"),
            *("--cache", str(tmp_path / "cache"), "--json", str(out)),
        ]
    )
    result = json.loads(out.read_text())
    assert result["verdict"]["n"] == 6
    assert result["fit"] == {"seed": 1, "count": 16}


@pytest.mark.torch
def test_the_baseline_prints_its_latency_on_the_tiny_models(
    benchmark: Callable[[str], ModuleType],
    tiny_models: Path,
    tiny_repository: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = benchmark("baseline_inprocess").main(
        [
            *("--export-dir", str(tiny_models), "--repository", str(tiny_repository)),
            *("--integrator", "site_a", "--synthetic", "1", "--rounds", "1", *SIZE),
        ]
    )
    assert result["images"] == 1 and result["sam_img_size"] == 256
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result


@pytest.mark.torch
def test_the_baseline_refuses_an_unknown_integrator(
    benchmark: Callable[[str], ModuleType],
    tiny_models: Path,
    tiny_repository: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        benchmark("baseline_inprocess").main(
            [
                *("--export-dir", str(tiny_models), "--repository", str(tiny_repository)),
                *("--integrator", "nobody"),
            ]
        )
    assert exit_info.value.code == 2
    assert "nobody" in capsys.readouterr().err


@pytest.mark.torch
def test_bench_export_sam_times_an_export_with_the_decoders_point_inputs(
    benchmark: Callable[[str], ModuleType],
) -> None:
    (result,) = benchmark("bench_export_sam").main(
        ["--model-type", "vit_tiny", "--img-size", "64", "--runs", "1", "--boxes", "2"]
    )
    assert result["img_size"] == 64 and result["ort_cpu_decoder_ms_2_boxes"] > 0


@pytest.mark.torch
@pytest.mark.slow
def test_sam_frame_times_both_variants_per_step(benchmark: Callable[[str], ModuleType]) -> None:
    results = benchmark("sam_frame").main(["--synthetic", "1", "--rounds", "1", *SIZE])
    assert [r["variant"] for r in results] == ["whole@1024", "crop@512"]
    for r in results:
        assert set(r["median_stage_ms"]) >= {"preprocess", "detector", "sam_encoder", "masks"}
