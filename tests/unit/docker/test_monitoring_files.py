"""docker/monitoring (Prometheus, alert rules, Grafana) and the Prometheus Operator manifests:
parsed, in agreement with each other, and reading only metrics loadcheck or Triton publish.
The live check against a real tritonserver's scrape is tests/functional/test_verdict_metrics.py."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from deploy_files import COMPOSE, DOCKER, K8S

from loadcheck import deploy_constants as dc
from loadcheck.console.metrics import METRIC_NAMES as CONSOLE_METRIC_NAMES
from loadcheck.gateway.metrics import METRIC_NAMES as GATEWAY_METRIC_NAMES
from loadcheck.monitoring.promql import dashboard_expressions, metric_names
from loadcheck.serving.verdict_metrics import METRIC_NAMES

MONITORING = DOCKER / "monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "loadcheck.json"
DATASOURCE = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
#: Triton's own metrics the files read (the functional test finds each in a live scrape), and
#: Prometheus' synthetic ``up``.
TRITON_METRICS = {
    dc.TRITON_QUEUE_COUNTER,
    dc.TRITON_SUCCESS_COUNTER,
    "nv_inference_request_failure",
}
KNOWN = (
    set(METRIC_NAMES)
    | set(GATEWAY_METRIC_NAMES)
    | set(CONSOLE_METRIC_NAMES)
    | TRITON_METRICS
    | {"up"}
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('rate(a_total{b="c"}[5m] offset 1h) / clamp_min(y, 1e-9)', {"a_total", "y"}),
        ("sum by (integrator) (x) > 2 * z + 0.1", {"x", "z"}),
        ('up{job="t"} == 1 unless on (instance) count by (instance) (m{model="s"})', {"up", "m"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_alert_has_a_severity_a_summary_and_reads_known_metrics() -> None:
    data = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in data["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {
        "LoadcheckUnqualifiedShareJump",
        "LoadcheckFeatureDrift",
        "LoadcheckCameraDrift",
        "LoadcheckTritonDown",
        "LoadcheckSegmentatorNotLoaded",
        "LoadcheckQueueTimeHigh",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        unknown = metric_names(rule["expr"]) - KNOWN
        assert not unknown, f"{rule['alert']} reads unknown metrics {sorted(unknown)}"


def test_the_dashboard_reads_known_metrics_from_the_provisioned_datasource() -> None:
    expressions = dashboard_expressions(DASHBOARD)
    assert len(expressions) >= 10
    for where, expr in expressions.items():
        unknown = metric_names(expr) - KNOWN
        assert not unknown, f"dashboard {where} reads unknown metrics {sorted(unknown)}"
    (datasource,) = yaml.safe_load(DATASOURCE.read_text())["datasources"]
    uids = {
        target["datasource"]["uid"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"


def test_the_prometheus_rule_manifest_holds_the_alert_files_groups() -> None:
    rule = yaml.safe_load((K8S / "monitoring" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]
    kustomization = yaml.safe_load((K8S / "monitoring" / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [
        "console-servicemonitor.yaml",
        "gateway-servicemonitor.yaml",
        "prometheusrule.yaml",
        "servicemonitor.yaml",
    ]


def test_the_gateway_service_monitor_scrapes_the_gateway_service_metrics_route() -> None:
    monitor = yaml.safe_load((K8S / "monitoring" / "gateway-servicemonitor.yaml").read_text())
    service = yaml.safe_load((K8S / "gateway-service.yaml").read_text())
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def _scrape_jobs() -> dict[str, dict]:  # type: ignore[type-arg]
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_prometheus_scrapes_triton_the_gateway_and_the_console_and_nothing_else() -> None:
    assert set(_scrape_jobs()) == {"loadcheck-triton", "loadcheck-gateway", "loadcheck-console"}


def test_prometheus_scrapes_the_console_metrics_port_as_its_service_monitor_does() -> None:
    job = _scrape_jobs()["loadcheck-console"]
    assert job["static_configs"][0]["targets"] == [f"console:{dc.CONSOLE_METRICS_PORT}"]
    assert job["metrics_path"] == "/metrics"
    environment = yaml.safe_load(COMPOSE.read_text())["services"]["console"]["environment"]
    assert environment["LOADCHECK_CONSOLE_METRICS_PORT"] == str(dc.CONSOLE_METRICS_PORT)
    assert environment["LOADCHECK_CONSOLE_METRICS_ADDRESS"] == "0.0.0.0"
    monitor = yaml.safe_load((K8S / "monitoring" / "console-servicemonitor.yaml").read_text())
    service = yaml.safe_load((K8S / "console-service.yaml").read_text())
    assert service["metadata"]["name"] == job["job_name"]  # the Operator's job name
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["port"] == dc.CONSOLE_METRICS_PORT and endpoint["path"] == "/metrics"
    deployment = yaml.safe_load((K8S / "console-deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LOADCHECK_CONSOLE_METRICS_PORT"] == str(dc.CONSOLE_METRICS_PORT)
    assert env["LOADCHECK_CONSOLE_METRICS_ADDRESS"] == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[port["targetPort"]] == dc.CONSOLE_METRICS_PORT


def test_prometheus_scrapes_the_compose_gateway_as_its_service_monitor_does() -> None:
    job = _scrape_jobs()["loadcheck-gateway"]
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    command = services["gateway"]["command"]
    assert job["static_configs"][0]["targets"] == [f"gateway:{dc.GATEWAY_PORT}"]
    assert command[command.index("--port") + 1] == str(dc.GATEWAY_PORT)
    assert job["metrics_path"] == "/metrics"
    service = yaml.safe_load((K8S / "gateway-service.yaml").read_text())
    # the Operator names the job after the Service
    assert service["metadata"]["name"] == job["job_name"]


def test_prometheus_scrapes_triton_as_the_service_monitor_does() -> None:
    job = _scrape_jobs()["loadcheck-triton"]
    monitor = yaml.safe_load((K8S / "monitoring" / "servicemonitor.yaml").read_text())
    service = yaml.safe_load((K8S / "triton-service.yaml").read_text())
    # the Operator names the job after the Service; the rules match job="loadcheck-triton"
    assert job["job_name"] == service["metadata"]["name"] == "loadcheck-triton"
    assert job["static_configs"][0]["targets"] == [f"triton:{dc.TRITON_METRICS_PORT}"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert 'job="loadcheck-triton"' in ALERTS.read_text()


def test_compose_mounts_the_monitoring_files() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    mounts = [v.split(":")[0] for s in ("prometheus", "grafana") for v in services[s]["volumes"]]
    for source in mounts:
        if source.startswith("./"):
            assert (DOCKER / source).exists(), source


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="no promtool (apt-get install prometheus)"
)
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(
            ["promtool", *args], cwd=MONITORING, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
