"""The console's Prometheus metrics: the endpoint started by the app parses with
prometheus_client's parser and counts a login and a refused login; throttled logins, actions and
uploads are counted; the drift gauges per integrator and camera come from the records store and
are measured at most once per refresh period."""

from __future__ import annotations

import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from streamlit.testing.v1 import AppTest

from loadcheck.console import metrics
from loadcheck.console.auth import AdminStore
from loadcheck.monitoring.served_drift import DEFAULT_LAST
from loadcheck.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))
from drift_site import OTHER, SAME, SITE, make_site

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "metrics-test-password"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    home = tmp_path / "ws"
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    port = _free_port()
    monkeypatch.setenv("LOADCHECK_HOME", str(home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(tmp_path / "repo"))
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    monkeypatch.setenv("LOADCHECK_CONSOLE_METRICS_PORT", str(port))
    metrics.stop_server()
    yield home, port
    metrics.stop_server()


def test_the_endpoint_parses_and_counts_a_refused_and_a_good_login(served):
    _, port = served
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()  # the first run starts the server
    before = _scrape(port)
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input("not-the-password")
    at.button(key="login_button").click().run()
    assert at.error and "wrong name or password" in at.error[0].value
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_button").click().run()
    assert not at.error
    after = _scrape(port)
    for outcome, added in (("ok", 1), ("refused", 1), ("throttled", 0), ("busy", 0)):
        name = "loadcheck_console_logins_total"
        delta = _value(after, name, outcome=outcome) - _value(before, name, outcome=outcome)
        assert delta == added, outcome
    # reruns do not start a second server: the same port still answers, nothing else listens
    assert metrics.start_server(None, None) == port


def test_the_dashboard_and_alerts_read_only_console_series_a_live_console_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from loadcheck.monitoring.promql import dashboard_expressions, metric_names, rule_expressions

    site = make_site(tmp_path)
    AdminStore(Workspace(site.home)).create(ADMIN, PASSWORD)
    port = _free_port()
    monkeypatch.setenv("LOADCHECK_HOME", str(site.home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(site.repository))
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    monkeypatch.setenv("LOADCHECK_CONSOLE_METRICS_PORT", str(port))
    metrics.stop_server()
    try:
        AppTest.from_file(str(APP), default_timeout=120).run()
        samples = _scrape(port)
    finally:
        metrics.stop_server()
    live = {name for name, _ in samples}
    assert set(metrics.METRIC_NAMES) <= live
    assert _value(
        samples, "loadcheck_console_drift_shifted_features", integrator=SITE, camera=OTHER
    )
    monitoring = APP.parents[1] / "docker" / "monitoring"
    expressions = {
        **rule_expressions(monitoring / "alerts.yml"),
        **dashboard_expressions(monitoring / "grafana" / "dashboards" / "loadcheck.json"),
    }
    read = {
        name
        for expr in expressions.values()
        for name in metric_names(expr)
        if name.startswith("loadcheck_console_")
    }
    assert read and read <= live, sorted(read - live)


def test_a_throttled_login_is_counted_as_throttled(tmp_path: Path):
    store = AdminStore(Workspace(tmp_path / "ws"))
    store.create(ADMIN, PASSWORD)
    counter = metrics.LOGINS.labels(outcome="throttled")
    before = counter._value.get()
    for _ in range(3):
        store.login(ADMIN, "wrong-password!", client="10.0.0.9", now=1000.0)
    result = store.login(ADMIN, PASSWORD, client="10.0.0.9", now=1000.0)
    assert not result.ok and result.retry_after_s > 0
    assert counter._value.get() == before + 1


def test_actions_and_uploads_are_counted_by_slug_and_outcome():
    fit_ok = metrics.ACTIONS_TOTAL.labels(action="fit", outcome="ok")
    deploy_failed = metrics.ACTIONS_TOTAL.labels(action="deploy", outcome="failed")
    errors = metrics.ERRORS.labels(where="action")
    a, b, e = fit_ok._value.get(), deploy_failed._value.get(), errors._value.get()
    uploads, size = metrics.UPLOADS._value.get(), metrics.UPLOAD_BYTES._value.get()
    metrics.count_action("fitting", True)
    metrics.count_action("deploying", False)
    metrics.count_action("reading the model status", True)  # a read: not an action
    assert not any(
        dict(s.labels).get("action") == "other"
        for f in metrics.REGISTRY.collect()
        for s in f.samples
    )
    metrics.count_upload(1234)
    assert fit_ok._value.get() == a + 1 and deploy_failed._value.get() == b + 1
    assert errors._value.get() == e + 1
    assert metrics.UPLOADS._value.get() == uploads + 1
    assert metrics.UPLOAD_BYTES._value.get() == size + 1234


def test_a_bad_port_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOADCHECK_CONSOLE_METRICS_PORT", "ninety")
    with pytest.raises(ValueError, match="LOADCHECK_CONSOLE_METRICS_PORT: expected a port"):
        metrics.start_server(None, None)


def test_drift_gauges_per_camera_rise_for_the_other_style_and_are_cached(tmp_path: Path):
    site = make_site(tmp_path)
    now = [0.0]
    collector = metrics.DriftCollector(site.home, str(site.repository), clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
    }
    psi = "loadcheck_console_drift_max_psi"
    shifted = "loadcheck_console_drift_shifted_features"
    same = _value(samples, psi, integrator=SITE, camera=SAME)
    other = _value(samples, psi, integrator=SITE, camera=OTHER)
    assert other > 2 * same > 0
    assert _value(samples, shifted, integrator=SITE, camera=SAME) == 0
    assert _value(samples, shifted, integrator=SITE, camera=OTHER) >= 2
    records = _value(samples, "loadcheck_console_drift_records", integrator=SITE, camera="")
    assert records == min(site.n_same + site.n_other, DEFAULT_LAST)
    generate_latest(registry)
    assert collector.measurements == 1  # within the refresh period: the cached figures
    now[0] += metrics.DRIFT_REFRESH_S
    generate_latest(registry)
    assert collector.measurements == 2


def test_loadcheck_console_refuses_a_bad_metrics_port_before_starting(tmp_path: Path):
    from typer.testing import CliRunner

    from loadcheck.cli import app

    home = tmp_path / "ws"
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    result = CliRunner().invoke(
        app,
        ["console", "--home", str(home)],
        env={"LOADCHECK_CONSOLE_METRICS_PORT": "70000"},
    )
    assert result.exit_code == 2
    assert "LOADCHECK_CONSOLE_METRICS_PORT: expected 1 to 65535, got 70000" in result.output


def test_the_pages_action_and_upload_helpers_feed_the_counters(tmp_path: Path):
    from types import SimpleNamespace

    from loadcheck.console.config import ConsoleConfig
    from loadcheck.console.widgets import Session, action, uploaded_path

    session = Session(ConsoleConfig(tmp_path, str(tmp_path / "repo"), "127.0.0.1:9", None), "a")
    fit_ok = metrics.ACTIONS_TOTAL.labels(action="fit", outcome="ok")
    deploy_failed = metrics.ACTIONS_TOTAL.labels(action="deploy", outcome="failed")
    a, b = fit_ok._value.get(), deploy_failed._value.get()
    uploads, size = metrics.UPLOADS._value.get(), metrics.UPLOAD_BYTES._value.get()
    with action(session, "fitting"):
        pass
    with action(session, "deploying"):
        raise ValueError("Triton said no")
    upload = SimpleNamespace(name="q.zip", getvalue=lambda: b"x" * 10)
    with uploaded_path(upload) as path:
        assert path.read_bytes() == b"x" * 10
    assert (fit_ok._value.get(), deploy_failed._value.get()) == (a + 1, b + 1)
    assert metrics.UPLOADS._value.get() == uploads + 1
    assert metrics.UPLOAD_BYTES._value.get() == size + 10
