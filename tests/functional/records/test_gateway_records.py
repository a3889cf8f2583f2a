"""Gateway processes recording their verdicts, on SQLite and on a real PostgreSQL server: two
processes answering at once lose no record (count and content), and a database that goes away
changes no answer (the drops are counted; recording resumes when it is back).

The processes (gateway_recording_process.py) are built as ``loadcheck gateway --record on``
builds itself, in front of a backend whose verdict follows from the photo (no Triton needed).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from gateway_recording_process import expected
from postgres_server import PostgresServer
from prometheus_client.parser import text_string_to_metric_families

from loadcheck.gateway.app import LEGACY_ROUTE
from loadcheck.gateway.metrics import RECORDS_DROPPED, RECORDS_QUEUED, RECORDS_WRITTEN
from loadcheck.gateway.tokens import TokenStore
from loadcheck.records import RecordQuery, RecordStore
from loadcheck.workspace import Workspace

PROCESS = Path(__file__).with_name("gateway_recording_process.py")


def photo(value: int) -> bytes:
    """A PNG of mean pixel ``value`` (lossless: the backend reads the value back exactly)."""
    return cv2.imencode(".png", np.full((24, 32, 3), value, np.uint8))[1].tobytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gateway(home: Path, database: str) -> Iterator[tuple[str, list[str]]]:
    """A recording gateway process; yields its base URL and (after it stopped) its log lines."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(PROCESS), str(port), str(home), database],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROCESS.parent,
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"gateway did not start: {proc.communicate()[1]}")
            time.sleep(0.2)
        yield base, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        lines.extend(err.splitlines())
    # uvicorn exits by the signal it shut down gracefully for
    assert proc.returncode in (0, -signal.SIGTERM), "\n".join(lines[-20:])
    assert any("Application shutdown complete" in line for line in lines)


def upload(base: str, token: str, data: bytes, request_id: str) -> httpx.Response:
    return httpx.post(
        base + LEGACY_ROUTE.format(token=token) + "?detail=1",
        files={"image": ("truck.png", data, "image/png")},
        headers={"X-Request-ID": request_id},
        timeout=60,
    )


def metric(base: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


def wait_for(condition: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_two_gateway_processes_answering_at_once_lose_no_record(
    database_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "ws"
    tokens = TokenStore(Workspace(home))
    camera_token = tokens.issue("north_pit", "lane1").token
    plain_token = tokens.issue("south_pit").token
    values = list(range(10, 250, 4))  # 60 distinct photos
    sent: dict[str, tuple[int, bytes, str | None]] = {}
    with (
        gateway(home, database_url) as (first, first_log),
        gateway(home, database_url) as (
            second,
            _,
        ),
    ):
        jobs = []
        for i, value in enumerate(values):
            base = first if i % 2 == 0 else second
            token, camera = (camera_token, "lane1") if i % 3 else (plain_token, None)
            request_id = f"g{i % 2}-{i}"
            sent[request_id] = (value, photo(value), camera)
            jobs.append((base, token, photo(value), request_id))
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda job: upload(*job), jobs))
    for (_, _, _, request_id), answer in zip(jobs, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-ID"] == request_id
        verdict, probability, _ = expected(sent[request_id][0])
        assert answer.json()["score_result"] == verdict.value
        assert answer.json()["probability"] == pytest.approx(probability, abs=1e-6)
    log = [json.loads(line) for line in first_log if line.startswith("{")]
    assert any(line["request_id"] == "g0-0" for line in log), "JSON log lines carry the id"
    with RecordStore(database_url) as store:
        assert store.count() == len(values)
        records = store.query(RecordQuery(limit=1000)).records
        by_source = {r.provenance.source: r for r in records}
        assert set(by_source) == set(sent), "each request recorded once"
        for request_id, (value, data, camera) in sent.items():
            record = by_source[request_id]
            verdict, probability, review = expected(value)
            assert record.verdict is verdict
            assert record.probability == pytest.approx(probability)
            assert record.needs_review is review
            assert record.camera == camera
            assert record.integrator == ("north_pit" if camera else "south_pit")
            assert record.provenance.recorded_by == "gateway"
            assert record.photo_stored and store.photo(record.photo_sha256 or "") == data


def test_a_database_outage_changes_no_answer_and_recording_resumes_after_it(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    import psycopg

    database_url = postgres.create_database()
    name = database_url.rsplit("/", 1)[1]
    admin = f"host={postgres.host} port={postgres.port} user=loadcheck dbname=postgres"
    home = tmp_path / "ws"
    token = TokenStore(Workspace(home)).issue("north_pit").token

    def outage(on: bool) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if on else "true"}')
            if on:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

    def check(base: str, values: list[int], tag: str) -> None:
        for i, value in enumerate(values):
            answer = upload(base, token, photo(value), f"{tag}-{i}")
            assert answer.status_code == 200, answer.text
            assert answer.json()["score_result"] == expected(value)[0].value

    with gateway(home, database_url) as (base, _):
        check(base, [20, 200, 90, 230, 140], "before")
        wait_for(lambda: metric(base, RECORDS_WRITTEN) == 5, "the first records")
        outage(True)
        check(base, [30, 210, 100, 240, 150, 60, 180, 20, 220, 130], "during")
        wait_for(lambda: metric(base, RECORDS_QUEUED) == 0, "the queue to drain")
        assert metric(base, RECORDS_DROPPED, reason="write_failed") == 10
        assert metric(base, RECORDS_WRITTEN) == 5
        outage(False)
        # the store is reopened at most every 5 s: records get through again after that
        values = [40, 190, 110, 250, 160]
        check(base, values, "after")
        wait_for(lambda: metric(base, RECORDS_QUEUED) == 0, "the queue to drain")
        deadline = time.monotonic() + 30
        while metric(base, RECORDS_WRITTEN) == 5 and time.monotonic() < deadline:
            check(base, [values[0]], "retry")
            time.sleep(1)
        wait_for(lambda: metric(base, RECORDS_QUEUED) == 0, "the queue to drain")
        written = metric(base, RECORDS_WRITTEN)
        assert written > 5
    with RecordStore(database_url) as store:
        sources = {r.provenance.source for r in store.query(RecordQuery(limit=1000)).records}
    assert {f"before-{i}" for i in range(5)} <= sources
    assert not any(s and s.startswith("during") for s in sources)
    assert len(sources) == written
