from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import hostile_images as hostile
import numpy as np
import pytest
from starlette.testclient import TestClient

import loadcheck.gateway.app as gateway_app
from loadcheck.client.errors import (
    InspectionError,
    ModelNotFoundError,
    RejectedInputError,
    ServerError,
    TransientError,
)
from loadcheck.gateway.app import create_app
from loadcheck.gateway.tokens import TokenStore, legacy_path
from loadcheck.payloads import InspectionResult, LoadFeatures, Verdict
from loadcheck.workspace import Workspace


def jpeg(value: int = 200) -> bytes:
    return cv2.imencode(".jpg", np.full((40, 60, 3), value, np.uint8))[1].tobytes()


class FakeBackend:
    """Answers Qualified, or raises ``error`` when set."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.is_ready = True
        self.seen: list[tuple[bytes, str]] = []
        self.request_ids: list[str | None] = []
        self.closed = False
        self.loop_thread: int | None = None

    async def inspect(
        self, image: bytes, integrator: str, *, request_id: str | None = None
    ) -> InspectionResult:
        self.loop_thread = threading.get_ident()
        self.seen.append((image, integrator))
        self.request_ids.append(request_id)
        if self.error is not None:
            raise self.error
        features = LoadFeatures(("fullness", "roughness_pits"), np.array([0.9, 0.1]), "1.0")
        return InspectionResult(Verdict.QUALIFIED, 0.87, 0.5, features)

    async def ready(self) -> bool:
        if isinstance(self.error, InspectionError):
            raise self.error
        return self.is_ready

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(Workspace(tmp_path / "ws"))


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(store: TokenStore, backend: FakeBackend) -> Iterator[TestClient]:
    app = create_app(backend, store, max_body_bytes=64 * 1024, retry_after_s=7)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    assert backend.closed


def post(client: TestClient, path: str, data: bytes = b"", *, field: str = "image", **kw: object):  # type: ignore[no-untyped-def]
    return client.post(path, files={field: ("truck.jpg", data, "image/jpeg")}, **kw)  # type: ignore[arg-type]


def test_a_form_upload_answers_the_legacy_score_result_only(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    token = store.issue("site_a").token
    response = post(client, legacy_path(token), jpeg())
    assert response.status_code == 200
    assert response.json() == {"score_result": "Qualified"}
    assert backend.seen == [(jpeg(), "site_a")]


def test_the_path_without_its_trailing_slash_also_works(
    client: TestClient, store: TokenStore
) -> None:
    token = store.issue("site_a").token
    assert post(client, legacy_path(token).rstrip("/"), jpeg()).status_code == 200


def test_detail_adds_probability_threshold_and_features(
    client: TestClient, store: TokenStore
) -> None:
    token = store.issue("site_a").token
    body = post(client, legacy_path(token) + "?detail=1", jpeg()).json()
    assert body["score_result"] == "Qualified"
    assert body["probability"] == pytest.approx(0.87)
    assert body["threshold"] == pytest.approx(0.5)
    assert body["features"] == pytest.approx({"fullness": 0.9, "roughness_pits": 0.1})
    assert body["feature_spec_version"] == "1.0"


def test_a_missing_image_field_is_400(client: TestClient, store: TokenStore) -> None:
    token = store.issue("site_a").token
    response = post(client, legacy_path(token), jpeg(), field="picture")
    assert response.status_code == 400
    assert "missing form field 'image'" in response.json()["error"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"content": b"raw bytes", "headers": {"content-type": "image/jpeg"}},
            "multipart/form-data",
        ),
        (
            {"data": {"image": "a text value"}, "files": {"other": ("x", b"y")}},
            "must be a file upload",
        ),
        (
            {
                "content": b"--xx\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=xx"},
            },
            "",
        ),
    ],
)
def test_bodies_without_an_uploaded_image_file_are_400(
    client: TestClient, store: TokenStore, kwargs: dict[str, object], reason: str
) -> None:
    token = store.issue("site_a").token
    response = client.post(legacy_path(token), **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_an_unknown_token_is_404_and_never_reaches_inference(
    client: TestClient, backend: FakeBackend
) -> None:
    response = post(client, legacy_path("not-a-real-token"), jpeg())
    assert response.status_code == 404
    assert response.json() == {"error": "unknown token"}
    assert backend.seen == []


def test_a_body_over_the_limit_is_413(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    token = store.issue("site_a").token
    response = post(client, legacy_path(token), b"\xff\xd8\xff" + b"0" * 70_000)
    assert response.status_code == 413
    assert "limit of 65536 bytes" in response.json()["error"]
    assert backend.seen == []


def test_a_chunked_body_over_the_limit_is_413_too(client: TestClient, store: TokenStore) -> None:
    token = store.issue("site_a").token

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    response = client.post(
        legacy_path(token),
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a not supported", "not an image"),
        (b"\xff\xd8\xff\xe0 truncated", "corrupt or truncated JPEG"),
        (b"", "empty"),
        (hostile.png_first_chunk_declaring_3_gb(), "corrupt PNG: the first chunk is not"),
        (hostile.png_signature_then_random_bytes(), "corrupt PNG: the first chunk is not"),
        (hostile.jpeg_without_frame_header(), "before the frame header"),
        (jpeg()[:200], "corrupt or truncated JPEG"),
    ],
    ids=[
        "GIF",
        "cut JPEG marker",
        "empty",
        "33-byte PNG declaring a 3 GB chunk",
        "random bytes after a PNG signature",
        "JPEG without SOF",
        "truncated JPEG",
    ],
)
def test_a_file_that_is_not_an_image_is_422_with_the_reason(
    client: TestClient, store: TokenStore, data: bytes, reason: str
) -> None:
    token = store.issue("site_a").token
    response = post(client, legacy_path(token), data)
    assert response.status_code == 422
    assert reason in response.json()["error"]


def test_an_image_the_server_rejects_is_422_with_its_reason(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    backend.error = RejectedInputError("12000x12000 is over 40000000 pixels")
    response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 422
    assert "over 40000000 pixels" in response.json()["error"]


def test_an_unreachable_triton_is_503_with_retry_after(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    backend.error = TransientError("cannot connect to triton:8000: Connection refused")
    response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert "triton:8000" not in response.text


def test_a_token_whose_integrator_is_not_deployed_is_404(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    backend.error = ModelNotFoundError("model 'integrator_site_a' at h:1: not loaded")
    response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 404
    assert "not deployed" in response.json()["error"]


def test_a_triton_failure_is_502_without_its_message(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    backend.error = ServerError("ValueError: raised\n\nAt:\n  model.py(13): execute")
    response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 502
    assert "model.py" not in response.text and "ValueError" not in response.text


def test_a_bug_is_a_500_without_a_traceback(
    client: TestClient, store: TokenStore, backend: FakeBackend
) -> None:
    backend.error = ZeroDivisionError("division by zero")
    response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    assert "Traceback" not in response.text and "ZeroDivision" not in response.text


def test_a_rotated_token_stops_working_at_once_and_the_new_one_works(
    client: TestClient, store: TokenStore
) -> None:
    old = store.issue("site_a").token
    assert post(client, legacy_path(old), jpeg()).status_code == 200
    new = store.rotate("site_a").token
    assert new != old
    assert post(client, legacy_path(old), jpeg()).status_code == 404
    assert post(client, legacy_path(new), jpeg()).status_code == 200


def test_health_answers_while_the_process_runs_and_readiness_follows_triton(
    client: TestClient, backend: FakeBackend
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    backend.is_ready = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    backend.error = TransientError("down")
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_unknown_routes_and_methods_answer_json(client: TestClient, store: TokenStore) -> None:
    assert client.get("/nothing").json() == {"error": "Not Found"}
    response = client.get(legacy_path(store.issue("site_a").token))
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}


@pytest.fixture(scope="module")
def grey_png_30000() -> bytes:
    """A valid 30000 x 30000 grey PNG: ~4 MB on the wire, 900 MB once decoded."""
    return hostile.blank_grey_png(30_000, 30_000)


def test_a_30000_by_30000_png_is_422_from_its_header_without_being_decoded(
    store: TokenStore,
    backend: FakeBackend,
    grey_png_30000: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[int] = []
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(flags))
    app = create_app(backend, store, max_body_bytes=len(grey_png_30000) + 4096)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = post(client, legacy_path(store.issue("site_a").token), grey_png_30000)
    assert response.status_code == 422
    assert "30000x30000 = 900000000 pixels is over the limit" in response.json()["error"]
    assert decoded == []
    assert backend.seen == []


def test_the_pixel_limit_of_the_gateway_can_be_lowered(
    store: TokenStore, backend: FakeBackend
) -> None:
    app = create_app(backend, store, max_pixels=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = post(client, legacy_path(store.issue("site_a").token), jpeg())
    assert response.status_code == 422
    assert "60x40 = 2400 pixels is over the limit of 1000 pixels" in response.json()["error"]


def _slow_check(monkeypatch: pytest.MonkeyPatch, seconds: float) -> tuple[list[int], list[int]]:
    """Replaces the gateway's image check by one that sleeps; returns (threads it ran in, the
    most checks at once)."""
    threads: list[int] = []
    most = [0]
    running = [0]
    lock = threading.Lock()

    def check(data: bytes, **limits: int) -> str:
        with lock:
            threads.append(threading.get_ident())
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(seconds)
        with lock:
            running[0] -= 1
        return "JPEG"

    monkeypatch.setattr(gateway_app, "check_image_bytes", check)
    return threads, most


def test_the_image_check_runs_in_a_worker_thread_and_the_event_loop_keeps_answering(
    store: TokenStore, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads, _ = _slow_check(monkeypatch, 0.6)
    app = create_app(backend, store)
    path = legacy_path(store.issue("site_a").token)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        upload = pool.submit(post, client, path, jpeg())
        time.sleep(0.1)  # the check has started
        start = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        health_s = time.perf_counter() - start
        assert upload.result().status_code == 200
    assert health_s < 0.3, f"healthz waited {health_s:.2f} s behind an image check"
    assert threads and backend.loop_thread is not None
    assert backend.loop_thread not in threads


def test_image_checks_run_a_bounded_number_at_once(
    store: TokenStore, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads, most = _slow_check(monkeypatch, 0.1)
    app = create_app(backend, store, max_concurrent_checks=2)
    path = legacy_path(store.issue("site_a").token)
    with TestClient(app) as client, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(client, path, jpeg()).status_code, range(6)))
    assert answers == [200] * 6
    assert len(threads) == 6
    assert most[0] == 2
