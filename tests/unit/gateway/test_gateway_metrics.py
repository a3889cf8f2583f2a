"""The gateway's metrics middleware and /metrics route on a minimal Starlette application."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from loadcheck.gateway.metrics import (
    IN_PROGRESS,
    REQUEST_DURATION,
    REQUESTS_TOTAL,
    UNMATCHED,
    GatewayMetrics,
    instrument,
)

TEMPLATE = "/quality_detector/handle_image_post/{token}/"


async def inspect(request: Request) -> Response:
    if request.path_params["token"] == "broken":
        raise RuntimeError("handler failed")
    status = 422 if request.path_params["token"] == "bad" else 200
    return JSONResponse({"ok": status == 200}, status_code=status)


def _app() -> Starlette:
    return instrument(Starlette(routes=[Route(TEMPLATE, inspect, methods=["POST"])]))


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_are_counted_by_route_template_method_and_status() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        for token in ("secret-token-1", "secret-token-2", "bad", "broken"):
            client.post(f"/quality_detector/handle_image_post/{token}/")
        client.get("/nowhere")
        page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert "secret-token" not in page.text, "URL tokens are secrets"
    samples = _samples(page.text)

    def count(route: str, method: str, status: str) -> float:
        labels = frozenset({"route": route, "method": method, "status": status}.items())
        return samples.get((REQUESTS_TOTAL, labels), 0.0)

    assert count(TEMPLATE, "POST", "200") == 2
    assert count(TEMPLATE, "POST", "422") == 1
    assert count(TEMPLATE, "POST", "500") == 1
    assert count(UNMATCHED, "GET", "404") == 1
    post = frozenset({"route": TEMPLATE, "method": "POST"}.items())
    assert samples[(f"{REQUEST_DURATION}_count", post)] == 4
    assert samples[(IN_PROGRESS, post)] == 0


def test_two_applications_keep_their_own_counts() -> None:
    first, second = _app(), _app()
    with TestClient(first) as client:
        client.post("/quality_detector/handle_image_post/t/")
    with TestClient(second) as client:
        text = client.get("/metrics").text
    assert not any(name == REQUESTS_TOTAL and value for (name, _), value in _samples(text).items())
    assert isinstance(first.state.metrics, GatewayMetrics)


@pytest.mark.parametrize("path", ["/metrics", "/internal/metrics"])
def test_the_metrics_path_can_be_chosen(path: str) -> None:
    app = instrument(Starlette(routes=[]), path=path)
    with TestClient(app) as client:
        assert client.get(path).status_code == 200


def test_the_gateway_application_serves_its_metrics(tmp_path: Path) -> None:
    from test_gateway_app import FakeBackend, jpeg

    from loadcheck.gateway.app import LEGACY_ROUTE, create_app
    from loadcheck.gateway.tokens import TokenStore
    from loadcheck.workspace import Workspace

    store = TokenStore(Workspace(tmp_path / "ws"))
    token = store.issue("site_a").token
    app = create_app(FakeBackend(), store)  # create_app instruments itself
    with TestClient(app) as client:
        files = {"image": ("truck.jpg", jpeg(), "image/jpeg")}
        assert client.post(LEGACY_ROUTE.format(token=token), files=files).status_code == 200
        assert client.post(LEGACY_ROUTE.format(token="unknown"), files=files).status_code == 404
        text = client.get("/metrics").text
    assert token not in text
    samples = _samples(text)
    for status in ("200", "404"):
        labels = frozenset({"route": LEGACY_ROUTE, "method": "POST", "status": status}.items())
        assert samples[(REQUESTS_TOTAL, labels)] == 1
