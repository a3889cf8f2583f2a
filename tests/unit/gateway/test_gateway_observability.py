"""What the gateway does beside answering: records of every verdict (SQLite here; PostgreSQL and
two processes in tests/functional/records), /metrics, request ids and JSON logs, webhooks."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from test_gateway_app import FakeBackend, jpeg
from typer.testing import CliRunner

import loadcheck.gateway.app as gateway_app
import loadcheck.gateway.server as server
from loadcheck.cli import app as cli_app
from loadcheck.client.errors import ServerError, TransientError
from loadcheck.gateway.app import LEGACY_ROUTE, create_app
from loadcheck.gateway.metrics import (
    RECORDS_DROPPED,
    RECORDS_QUEUED,
    RECORDS_WRITTEN,
    REQUESTS_TOTAL,
    TRITON_ERRORS,
    WEBHOOKS,
)
from loadcheck.gateway.recording import (
    GatewaySetupError,
    open_gateway_recorder,
    should_record,
    webhook_settings,
)
from loadcheck.gateway.tokens import TokenStore
from loadcheck.logs import JsonFormatter, RequestIdFilter, request_id_from
from loadcheck.monitoring.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSender,
    verify_signature,
)
from loadcheck.payloads import (
    InspectionResult,
    LoadFeatures,
    ReviewFlag,
    ReviewReason,
    ServedProvenance,
    Verdict,
)
from loadcheck.records.recorder import Recorder
from loadcheck.records.store import RecordStore
from loadcheck.workspace import Workspace

SECRET = "0123456789abcdef-secret"
CARD = "ab" * 32


def photo(value: int) -> bytes:
    """A distinct JPEG per value (the fake backend's verdict follows from it)."""
    return jpeg(value)


class PhotoBackend(FakeBackend):
    """Unqualified and flagged for review below pixel value 128, Qualified above; the
    probability is the pixel value / 255 (so each record can be checked against its photo)."""

    async def inspect(
        self, image: bytes, integrator: str, *, request_id: str | None = None
    ) -> InspectionResult:
        await super().inspect(image, integrator, request_id=request_id)
        import cv2

        value = int(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE).mean())
        low = value < 128
        return InspectionResult(
            Verdict.UNQUALIFIED if low else Verdict.QUALIFIED,
            value / 255,
            0.5,
            LoadFeatures(("fullness", "roughness_pits"), np.array([value / 255, 0.1]), "1.0"),
            review=ReviewFlag((ReviewReason("near_threshold", "close to the threshold"),))
            if low
            else ReviewFlag(),
            provenance=ServedProvenance(integrator, 3, "build-7", {"detector": CARD}),
        )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def tokens(tmp_path: Path) -> TokenStore:
    return TokenStore(Workspace(tmp_path / "ws"))


def post(client: TestClient, token: str, data: bytes, **kw: Any) -> Any:
    files = {"image": ("truck.jpg", data, "image/jpeg")}
    return client.post(LEGACY_ROUTE.format(token=token), files=files, **kw)


# -- records ---------------------------------------------------------------------------------


def test_every_verdict_is_recorded_with_its_photo_source_camera_review_and_provenance(
    tmp_path: Path, tokens: TokenStore
) -> None:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    recorder = open_gateway_recorder("on", url, tmp_path / "ws")
    assert recorder is not None
    camera_token = tokens.issue("site_a", "north").token
    plain_token = tokens.issue("site_b").token
    sent: dict[str, tuple[bytes, str | None, str]] = {}
    with TestClient(create_app(PhotoBackend(), tokens, recorder=recorder)) as client:
        for i, value in enumerate((40, 200, 90)):
            token = camera_token if i != 1 else plain_token
            response = post(client, token, photo(value), headers={"X-Request-ID": f"truck-{i}"})
            assert response.status_code == 200
            assert response.headers["X-Request-ID"] == f"truck-{i}"
            camera = "north" if i != 1 else None
            sent[f"truck-{i}"] = (photo(value), camera, response.json()["score_result"])
    # the application closed the recorder at shutdown: everything queued is written
    assert recorder.stats.written == 3 and recorder.stats.dropped == 0
    with RecordStore(url) as store:
        records = store.query().records
        assert len(records) == 3
        for record in records:
            data, camera, verdict = sent[record.provenance.source or ""]
            assert store.photo(record.photo_sha256 or "") == data
            assert record.camera == camera
            assert record.integrator == ("site_a" if camera else "site_b")
            assert record.verdict.value == verdict
            assert record.needs_review is (verdict == "Unqualified")
            assert record.features is not None
            assert record.probability == pytest.approx(record.features["fullness"])
            assert record.provenance.recorded_by == "gateway"
            assert record.provenance.scorer_version == 3
            assert record.provenance.repository_build == "build-7"
            assert record.provenance.networks == {"detector": CARD}


def test_a_store_that_cannot_be_written_changes_no_answer_and_the_drops_are_counted(
    tmp_path: Path, tokens: TokenStore
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the records folder would be here")
    url = f"sqlite:///{blocker / 'records.db'}"  # its parent is a file: never writable
    recorder = open_gateway_recorder("on", url, tmp_path / "ws")
    assert recorder is not None
    token = tokens.issue("site_a").token
    answers = []
    with TestClient(create_app(PhotoBackend(), tokens, recorder=recorder)) as client:
        for value in (40, 200, 90, 220):
            response = post(client, token, photo(value))
            answers.append((response.status_code, response.json()))
        text = client.get("/metrics").text
    assert answers == [
        (200, {"score_result": "Unqualified"}),
        (200, {"score_result": "Qualified"}),
        (200, {"score_result": "Unqualified"}),
        (200, {"score_result": "Qualified"}),
    ]
    assert recorder.stats.written == 0
    assert recorder.stats.dropped_failed == 4
    assert sample(text, RECORDS_DROPPED, reason="write_failed") == 4
    assert sample(text, RECORDS_WRITTEN) == 0


class BrokenSink:
    def add(self, record: Any, photo: bytes | None = None) -> Any:
        raise OSError("disk on fire")


def test_a_record_that_cannot_be_built_is_counted_and_the_answer_still_goes_out(
    tokens: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(BrokenSink(), recorded_by="gateway")

    def refuse(*args: Any, **kw: Any) -> bool:
        raise ValueError("a record the model refuses")

    monkeypatch.setattr(recorder, "record", refuse)
    token = tokens.issue("site_a").token
    with TestClient(create_app(PhotoBackend(), tokens, recorder=recorder)) as client:
        assert post(client, token, photo(200)).json() == {"score_result": "Qualified"}
        text = client.get("/metrics").text
    assert sample(text, RECORDS_DROPPED, reason="invalid") == 1


@pytest.mark.parametrize(
    ("mode", "database", "make_home", "variable", "expected"),
    [
        ("auto", None, False, None, False),
        ("auto", None, True, None, True),
        ("auto", "sqlite:///x.db", False, None, True),
        ("auto", None, False, "postgresql://u@127.0.0.1/db", True),
        ("on", None, False, None, True),
        ("off", "sqlite:///x.db", True, None, False),
    ],
)
def test_record_auto_records_when_a_database_is_named_or_the_workspace_exists(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    database: str | None,
    make_home: bool,
    variable: str | None,
    expected: bool,
) -> None:
    home = tmp_path / "ws"
    if make_home:
        home.mkdir()
    if variable:
        monkeypatch.setenv("LOADCHECK_DATABASE_URL", variable)
    else:
        monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    assert should_record(mode, database, home) is expected


def test_record_settings_that_cannot_work_are_named(tmp_path: Path) -> None:
    with pytest.raises(GatewaySetupError, match="expected one of auto, on, off"):
        should_record("sometimes", None, tmp_path)
    with pytest.raises(GatewaySetupError, match="mysql"):
        open_gateway_recorder("on", "mysql://u@127.0.0.1/db", tmp_path)
    assert open_gateway_recorder("off", None, tmp_path) is None


def test_an_unreachable_postgresql_at_start_lets_the_gateway_serve(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    recorder = open_gateway_recorder("on", f"postgresql://u@127.0.0.1:{port}/db", tmp_path)
    assert recorder is not None
    recorder.close()


# -- metrics ---------------------------------------------------------------------------------


def test_metrics_count_requests_triton_errors_and_records_after_known_requests(
    tmp_path: Path, tokens: TokenStore
) -> None:
    recorder = open_gateway_recorder("on", f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    backend = PhotoBackend()
    token = tokens.issue("site_a").token
    with TestClient(create_app(backend, tokens, recorder=recorder)) as client:
        for value in (40, 200, 210):
            assert post(client, token, photo(value)).status_code == 200
        assert post(client, "no-such-token", photo(40)).status_code == 404
        backend.error = TransientError("down")
        assert post(client, token, photo(40)).status_code == 503
        backend.error = ServerError("boom")
        assert post(client, token, photo(40)).status_code == 502
        assert recorder is not None
        recorder.writer.close()  # everything queued is written before the scrape
        text = client.get("/metrics").text
    assert token not in text
    route = LEGACY_ROUTE
    assert sample(text, REQUESTS_TOTAL, route=route, method="POST", status="200") == 3
    assert sample(text, REQUESTS_TOTAL, route=route, method="POST", status="404") == 1
    assert sample(text, REQUESTS_TOTAL, route=route, method="POST", status="503") == 1
    assert sample(text, REQUESTS_TOTAL, route=route, method="POST", status="502") == 1
    assert sample(text, TRITON_ERRORS, kind="unavailable") == 1
    assert sample(text, TRITON_ERRORS, kind="failed") == 1
    assert sample(text, TRITON_ERRORS, kind="rejected") == 0
    assert sample(text, RECORDS_WRITTEN) == 3
    assert sample(text, RECORDS_QUEUED) == 0
    assert sample(text, RECORDS_DROPPED, reason="queue_full") == 0
    duration = frozenset({"route": route, "method": "POST"}.items())
    assert samples(text)[("loadcheck_gateway_request_duration_seconds_count", duration)] == 6


def test_without_a_recorder_there_are_no_record_series(tokens: TokenStore) -> None:
    with TestClient(create_app(PhotoBackend(), tokens)) as client:
        text = client.get("/metrics").text
    assert RECORDS_QUEUED not in text and WEBHOOKS not in text


# -- request ids and logs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("truck-14_0202.a", True),
        ("4f1c2d", True),
        ("", False),
        ("has space", False),
        ("x" * 129, False),
        ("-leading-dash", False),
        ("new\nline", False),
    ],
)
def test_a_sane_request_id_is_kept_and_any_other_is_replaced(sent: str, kept: bool) -> None:
    got = request_id_from(sent)
    assert (got == sent) is kept
    assert request_id_from(got) == got


def test_each_request_id_reaches_the_answer_the_backend_and_the_json_log_lines(
    tokens: TokenStore,
) -> None:
    backend = PhotoBackend()
    token = tokens.issue("site_a").token
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("loadcheck.gateway")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with TestClient(create_app(backend, tokens)) as client:
            given = post(client, token, photo(200), headers={"X-Request-ID": "plant-42"})
            generated = post(client, token, photo(200), headers={"X-Request-ID": "bad id!"})
            unknown = post(client, "no-such-token", photo(200))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert given.headers["X-Request-ID"] == "plant-42"
    new_id = generated.headers["X-Request-ID"]
    assert new_id != "bad id!" and len(new_id) == 32
    assert unknown.headers["X-Request-ID"] not in ("plant-42", new_id)
    assert backend.request_ids == ["plant-42", new_id]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_id = {line["request_id"]: line for line in lines if line["message"].startswith("POST")}
    assert set(by_id) == {"plant-42", new_id, unknown.headers["X-Request-ID"]}
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}
        assert line["logger"].startswith("loadcheck.gateway")
    assert "-> 404" in by_id[unknown.headers["X-Request-ID"]]["message"]


def test_a_bug_answers_500_with_its_request_id(
    tokens: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway_app, "legacy_body", broken)
    token = tokens.issue("site_a").token
    with TestClient(create_app(PhotoBackend(), tokens), raise_server_exceptions=False) as client:
        response = post(client, token, photo(200), headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "bug-1"


# -- webhooks ----------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1; ``hold`` (when set) keeps each POST waiting."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                state.posts.append((dict(self.headers), body))
                state.arrived.set()
                if state.hold is not None:
                    state.hold.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    if r.hold is not None:
        r.hold.set()
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(10)


def test_chosen_verdicts_are_posted_signed_after_the_answer(
    receiver: Receiver, tokens: TokenStore
) -> None:
    settings = webhook_settings(receiver.url, SECRET, "needs-review")
    assert settings is not None
    sender = WebhookSender(settings).start()
    token = tokens.issue("site_a", "north").token
    with TestClient(create_app(PhotoBackend(), tokens, webhooks=sender)) as client:
        post(client, token, photo(40), headers={"X-Request-ID": "low-1"})  # flagged
        post(client, token, photo(200), headers={"X-Request-ID": "high-1"})  # not flagged
        text = client.get("/metrics").text
    # shutdown closed the sender after posting what was queued
    ((headers, body),) = receiver.posts
    assert verify_signature(
        SECRET.encode(), headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]
    )
    event = json.loads(body)
    assert event["request_id"] == "low-1" and event["camera"] == "north"
    assert event["needs_review"] is True and event["verdict"] == "Unqualified"
    assert sample(text, WEBHOOKS, outcome="dropped") == 0


def test_a_receiver_that_hangs_holds_back_no_answer(receiver: Receiver, tokens: TokenStore) -> None:
    receiver.hold = threading.Event()
    settings = webhook_settings(receiver.url, SECRET, "unqualified,qualified")
    assert settings is not None
    sender = WebhookSender(settings).start()
    token = tokens.issue("site_a").token
    client = TestClient(create_app(PhotoBackend(), tokens, webhooks=sender))
    with client:
        first = post(client, token, photo(40))
        assert receiver.arrived.wait(10), "the first event reached the receiver"
        # the receiver holds the first post: the next answers come all the same
        later = [post(client, token, photo(v)).json()["score_result"] for v in (200, 40, 210)]
        assert not receiver.hold.is_set() and sender.delivered == 0
        receiver.hold.set()
    assert first.json() == {"score_result": "Unqualified"}
    assert later == ["Qualified", "Unqualified", "Qualified"]
    assert sender.delivered == 4


@pytest.mark.parametrize(
    ("url", "secret", "on", "message"),
    [
        ("http://127.0.0.1:9/h", None, "unqualified", "needs --webhook-secret"),
        ("http://127.0.0.1:9/h", SECRET, "rejected", "--webhook-on"),
        ("http://127.0.0.1:9/h", "short", "unqualified", "at least 16 bytes"),
        ("ftp://127.0.0.1/h", SECRET, "unqualified", "expected http"),
    ],
)
def test_webhook_settings_that_cannot_work_are_named(
    url: str, secret: str | None, on: str, message: str
) -> None:
    with pytest.raises(GatewaySetupError, match=message):
        webhook_settings(url, secret, on)
    assert webhook_settings(None, None, "unqualified") is None


def test_webhook_choices_map_to_verdicts_and_the_review_flag() -> None:
    settings = webhook_settings("https://hooks.example/x", SECRET, " Qualified, no-mine ")
    assert settings is not None
    assert settings.verdicts == {Verdict.QUALIFIED, Verdict.NO_MINE_DETECTED}
    assert not settings.needs_review


# -- the command -------------------------------------------------------------------------------


class ServedError(Exception):
    pass


def serve(monkeypatch: pytest.MonkeyPatch, args: list[str], **variables: str) -> Any:
    seen: dict[str, Any] = {}
    real = gateway_app.create_app

    def spy(*a: Any, **kw: Any) -> Any:
        seen.update(kw)
        return real(*a, **kw)

    def fake_run_gateway(*a: Any, **kw: Any) -> None:
        raise ServedError

    monkeypatch.setattr(gateway_app, "create_app", spy)
    monkeypatch.setattr(server, "run_gateway", fake_run_gateway)
    result = CliRunner().invoke(cli_app, ["gateway", *args], env=variables)
    return result, seen


def test_the_command_records_in_the_workspace_by_default_and_posts_webhooks_from_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ws"
    home.mkdir()
    result, seen = serve(
        monkeypatch,
        ["--home", str(home)],
        LOADCHECK_WEBHOOK_URL="http://127.0.0.1:9/hooks",
        LOADCHECK_WEBHOOK_SECRET=SECRET,
        LOADCHECK_WEBHOOK_ON="needs-review",
    )
    assert isinstance(result.exception, ServedError), result.output
    assert isinstance(seen["recorder"], Recorder)
    assert (home / "records.db").is_file()
    assert seen["webhooks"].settings.needs_review
    seen["recorder"].close()
    seen["webhooks"].close()


def test_the_command_without_a_workspace_or_with_record_off_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ws"
    home.mkdir()
    result, seen = serve(monkeypatch, ["--home", str(home)], LOADCHECK_GATEWAY_RECORD="off")
    assert isinstance(result.exception, ServedError), result.output
    assert seen["recorder"] is None and seen["webhooks"] is None
    assert not (home / "records.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-url", "http://127.0.0.1:9/h"], "--webhook-secret"),
        (["--record", "on", "--database", "mysql://u@h/db"], "mysql"),
        (["--log-format", "xml"], "--log-format"),
    ],
)
def test_the_command_refuses_settings_that_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    result, _ = serve(monkeypatch, ["--home", str(tmp_path), *args], COLUMNS="250")
    assert result.exit_code == 2, result.output
    assert message in result.output
