"""Request ids, records and metrics through ``loadcheck gateway`` in front of a real Triton (the
``triton`` fixture): Triton gets the gateway's request id as the inference request's id (it
echoes it in its answer), and the record holds the served scorer's provenance."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadcheck.client.async_client import AsyncInspectionClient
from loadcheck.gateway.tokens import TokenStore, legacy_path
from loadcheck.records import RecordStore
from loadcheck.workspace import Workspace

pytestmark = [pytest.mark.triton, pytest.mark.torch]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def response_id(result: Any) -> str:
    """The id in a tritonclient answer (HTTP: a dict, gRPC: ModelInferResponse)."""
    response = result.get_response()
    return str(response.get("id", "") if isinstance(response, dict) else response.id)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_client_sends_its_request_id_to_triton_which_echoes_it(
    triton: Any, scene_jpegs: list[bytes], protocol: str
) -> None:
    url = triton.http_url if protocol == "http" else triton.grpc_url

    async def run() -> list[str]:
        echoed: list[str] = []
        async with AsyncInspectionClient(url, protocol, timeout=60) as client:  # type: ignore[arg-type]
            transport: Any = client.transport
            raw = transport._get_client()
            infer = raw.infer

            async def spy(*args: Any, **kw: Any) -> Any:
                result = await infer(*args, **kw)
                echoed.append(response_id(result))
                return result

            raw.infer = spy
            await client.inspect(scene_jpegs[0], triton.integrator, request_id="truck-14-1402")
            await client.inspect(scene_jpegs[0], triton.integrator)
        return echoed

    assert asyncio.run(run()) == ["truck-14-1402", ""]


def test_the_gateway_records_logs_and_counts_a_verdict_served_by_triton(
    triton: Any, scene_jpegs: list[bytes], tmp_path: Path
) -> None:
    home = tmp_path / "ws"
    token = TokenStore(Workspace(home)).issue(triton.integrator, "lane1").token
    database = f"sqlite:///{tmp_path / 'records.db'}"
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from loadcheck.cli import main; main()",
        "gateway",
        "--triton",
        triton.http_url,
        "--port",
        str(port),
        "--home",
        str(home),
        "--database",
        database,
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.3)
        answer = httpx.post(
            base + legacy_path(token) + "?detail=1",
            files={"image": ("truck.jpg", scene_jpegs[0], "image/jpeg")},
            headers={"X-Request-ID": "lane1-0001"},
            timeout=120,
        )
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-ID"] == "lane1-0001"
    body = answer.json()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, err[-2000:]
    ours = [line for line in lines if line["request_id"] == "lane1-0001"]
    assert any(line["message"].startswith("POST") for line in ours)
    requests = {
        (s.labels.get("status"), s.value)
        for f in text_string_to_metric_families(metrics)
        for s in f.samples
        if s.name == "loadcheck_gateway_requests_total"
    }
    assert ("200", 1.0) in requests
    # the dashboard and the alert rules read only series this gateway publishes
    from loadcheck.monitoring.promql import dashboard_expressions, metric_names, rule_expressions

    live = {
        line.split("{")[0].split(" ")[0]
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    monitoring = Path(__file__).parents[2] / "docker" / "monitoring"
    expressions = {
        **rule_expressions(monitoring / "alerts.yml"),
        **dashboard_expressions(monitoring / "grafana" / "dashboards" / "loadcheck.json"),
    }
    read = {
        name
        for expr in expressions.values()
        for name in metric_names(expr)
        if name.startswith("loadcheck_gateway_")
    }
    assert read and read <= live, sorted(read - live)
    with RecordStore(database) as store:
        (record,) = store.query().records
        assert store.photo(record.photo_sha256 or "") == scene_jpegs[0]
    assert record.provenance.source == "lane1-0001"
    assert record.camera == "lane1" and record.integrator == triton.integrator
    assert record.verdict.value == body["score_result"]
    assert record.probability == pytest.approx(body["probability"], abs=1e-6)
    assert record.needs_review is body["needs_review"]
    served = body["provenance"]
    assert served is not None
    assert record.provenance.scorer_version == served["scorer_version"]
    assert record.provenance.repository_build == served["repository_build"]
    assert dict(record.provenance.networks) == served["networks"]
