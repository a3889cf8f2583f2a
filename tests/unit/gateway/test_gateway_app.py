from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient

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
        self.closed = False

    async def inspect(self, image: bytes, integrator: str) -> InspectionResult:
        self.seen.append((image, integrator))
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
        (b"\xff\xd8\xff\xe0 truncated", "could not be decoded"),
        (b"", "empty"),
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
