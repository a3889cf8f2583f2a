"""A real ``loadcheck console`` serves its metrics from the start, before any browser session
has run the app: login counters at zero, and the drift gauges of a workspace whose records
drift on one camera (features from synthetic scenes' true masks; no Triton)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from loadcheck.console.auth import AdminStore
from loadcheck.serving.server import free_port
from loadcheck.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "monitoring"))
from drift_site import OTHER, SAME, SITE, make_site


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read().decode()


def test_the_console_process_serves_metrics_before_any_session(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    AdminStore(Workspace(site.home)).create("admin", "metrics-served-password")
    port, metrics_port = free_port(), free_port()
    loadcheck = shutil.which("loadcheck") or str(Path(sys.executable).with_name("loadcheck"))
    env = {
        **os.environ,
        "LOADCHECK_HOME": str(site.home),
        "LOADCHECK_REPOSITORY": str(site.repository),
        "LOADCHECK_TRITON_URL": "127.0.0.1:9",  # nothing there: not needed
        "LOADCHECK_CONSOLE_METRICS_PORT": str(metrics_port),
    }
    env.pop("LOADCHECK_DATABASE_URL", None)
    log_path = tmp_path / "console.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [loadcheck, "console", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    _get(f"http://127.0.0.1:{port}/_stcore/health")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.5)
            text = _get(f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("loadcheck_console_logins_total", (("outcome", "ok"),))] == 0
    psi = "loadcheck_console_drift_max_psi"
    same = samples[(psi, (("camera", SAME), ("integrator", SITE)))]
    other = samples[(psi, (("camera", OTHER), ("integrator", SITE)))]
    assert other > 2 * same > 0
    assert "console metrics: http://127.0.0.1:" in log_path.read_text()
