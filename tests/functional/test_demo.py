"""``loadcheck demo --quick`` end to end as a subprocess, and Ctrl-C leaving nothing running.

Accuracy above chance is asserted only when the trained demo models (``models/demo``) exist;
with the random-weight placeholders the test asserts the loud warning instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadcheck.demo.data import trained_models_available
from loadcheck.demo.report import PLACEHOLDER_WARNING, VERDICTS
from loadcheck.demo.runner import QUICK_FIT_COUNT, QUICK_TEST_COUNT

# The demo exports its models with PyTorch, serves them with tritonserver and takes minutes.
pytestmark = [pytest.mark.triton, pytest.mark.torch, pytest.mark.slow]

DEMO = [sys.executable, "-c", "from loadcheck.cli import main; main()", "demo"]
REPO = Path(__file__).resolve().parents[2]
HAS_DEMO_MODELS = trained_models_available()


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = next(
                line for line in (entry / "status").read_text().splitlines() if "State" in line
            )
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            found.append(cmdline)
    return found


@pytest.fixture(scope="module")
def quick_demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo") / "run"
    done = subprocess.run(
        [*DEMO, "--quick", "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=420,
        cwd=REPO,
    )
    return out, done


def test_quick_demo_exits_zero_and_writes_the_report(quick_demo):
    out, done = quick_demo
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["fit"]["count"] == QUICK_FIT_COUNT
    assert report["fit"]["mode"] == "the served segmentator"
    assert report["fit"]["summary"]["features_computed"] > 0
    assert report["test"]["count"] == QUICK_TEST_COUNT
    assert len(report["results"]) == QUICK_TEST_COUNT
    assert sum(report["verdict_counts"].values()) == QUICK_TEST_COUNT
    assert (
        sum(map(sum, report["confusion"]["matrix"]))
        == QUICK_TEST_COUNT - (report["verdict_counts"]["failed"])
    )
    assert report["images_per_s"] > 0
    assert (out / "report.md").is_file()
    overlays = [r["overlay"] for r in report["results"] if r["overlay"]]
    assert overlays and all(Path(p).is_file() for p in overlays)


def test_quick_demo_summary_names_the_verdict_counts_and_the_swap_instructions(quick_demo):
    out, done = quick_demo
    report = json.loads((out / "report.json").read_text())
    counts = report["verdict_counts"]
    assert ", ".join(f"{counts[v]} {v}" for v in VERDICTS) in done.stdout
    assert "images/s" in done.stdout
    assert str(out / "overlays") in done.stdout
    assert "loadcheck export sam" in done.stdout and "--models" in done.stdout


@pytest.mark.skipif(not HAS_DEMO_MODELS, reason="models/demo (trained demo models) not shipped")
def test_quick_demo_with_the_trained_models_beats_chance(quick_demo):
    out, _ = quick_demo
    report = json.loads((out / "report.json").read_text())
    assert not report["placeholder_models"]
    assert report["accuracy"] > report["chance_accuracy"]


@pytest.mark.skipif(HAS_DEMO_MODELS, reason="models/demo exists: the demo is not a placeholder")
def test_quick_demo_without_trained_models_warns_loudly_that_they_are_placeholders(quick_demo):
    out, done = quick_demo
    assert PLACEHOLDER_WARNING in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["placeholder_models"] is True
    assert report["warning"] == PLACEHOLDER_WARNING
    assert PLACEHOLDER_WARNING in (out / "report.md").read_text()


def start_demo(quick_demo, out: Path, *args: str) -> subprocess.Popen[str]:
    """A ``loadcheck demo --quick`` subprocess reusing the first run's ONNX export."""
    models = quick_demo[0] / ("demo_models" if HAS_DEMO_MODELS else "placeholder_models")
    reuse = ["--models", str(models)] if models.is_dir() else []
    return subprocess.Popen(
        [*DEMO, "--quick", "--out", str(out), "--no-progress", *reuse, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )


def read_until(proc: subprocess.Popen[str], text: str, timeout_s: float = 300) -> str:
    """stdout (and stderr) lines up to the first containing ``text`` (or EOF / timeout)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line or time.monotonic() > deadline:
            break
    return "".join(seen)


def assert_nothing_left(out: Path) -> None:
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(out)) == []


def test_ctrl_c_while_serving_stops_triton_and_its_stubs(quick_demo, tmp_path):
    out = tmp_path / "interrupted"
    proc = start_demo(quick_demo, out)
    try:
        seen = read_until(proc, "fitting 'demo'")
        assert "Triton ready" in seen, seen[-3000:]
        assert processes_mentioning(str(out)), "Triton was not running"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, seen + rest
    assert "interrupted" in rest
    assert_nothing_left(out)


def test_keep_serving_prints_the_summary_then_serves_until_ctrl_c(quick_demo, tmp_path):
    from loadcheck.client import InspectionClient

    out = tmp_path / "kept"
    proc = start_demo(quick_demo, out, "--keep-serving", "--fit-count", "12", "--test-count", "2")
    try:
        seen = read_until(proc, "keeps serving")
        assert "Accuracy against the synthetic truth" in seen, seen[-3000:]
        url = seen.split("keeps serving integrator 'demo' at HTTP ")[1].split(",")[0]
        with InspectionClient(url) as client:
            image = next((out / "data" / "test_seed2" / "images").glob("*.jpg"))
            assert client.inspect(image, "demo").score_result.value in VERDICTS
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, seen + rest
    assert "stopping Triton" in rest
    assert_nothing_left(out)
