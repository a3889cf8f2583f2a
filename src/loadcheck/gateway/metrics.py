"""Prometheus metrics of the gateway: an ASGI middleware and a ``/metrics`` route.

:func:`instrument` adds both to a Starlette application (one line where the gateway builds it)::

    app = instrument(Starlette(routes=routes, ...))

=============================================================  =========  ========================
metric                                                          kind       labels
=============================================================  =========  ========================
``loadcheck_gateway_requests_total``                            counter    route, method, status
``loadcheck_gateway_request_duration_seconds``                  histogram  route, method
``loadcheck_gateway_requests_in_progress``                      gauge      route, method
=============================================================  =========  ========================

``route`` is the matched route's *template* (``/quality_detector/handle_image_post/{token}/``),
never the requested path: a plant's URL token is a secret and must not reach a metrics page.
Unmatched paths are counted as ``route="unmatched"``. Triton's failures are the gateway's 502
(Triton failed the request) and 503 (Triton unavailable, or the gateway busy) answers. Each
application gets its own :class:`~prometheus_client.CollectorRegistry`, so two applications (or
tests) in one process do not share counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
#: Request duration buckets in seconds (an inspection takes 0.1-2 s; uploads can take longer).
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
REQUESTS_TOTAL = "loadcheck_gateway_requests_total"
REQUEST_DURATION = "loadcheck_gateway_request_duration_seconds"
IN_PROGRESS = "loadcheck_gateway_requests_in_progress"


@dataclass
class GatewayMetrics:
    """The gateway's metrics in a registry of their own."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        self.requests = Counter(
            REQUESTS_TOTAL.removesuffix("_total"),
            "HTTP requests answered, by route template, method and status code",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            REQUEST_DURATION,
            "Seconds from a request's arrival to its answer, by route template and method",
            ("route", "method"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            IN_PROGRESS,
            "Requests being answered, by route template and method",
            ("route", "method"),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    """The template of the first route that fully matches ``scope``, else :data:`UNMATCHED`."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


class MetricsMiddleware:
    """Pure ASGI middleware counting every HTTP request of ``app`` (see the module docstring).

    A request whose handler raises is counted with status 500 and the exception re-raised.
    """

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(self.routes, scope)
        method = str(scope.get("method", ""))
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        in_progress = self.metrics.in_progress.labels(route, method)
        in_progress.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            in_progress.dec()
            self.metrics.duration.labels(route, method).observe(time.perf_counter() - start)
            self.metrics.requests.labels(route, method, str(status[0])).inc()


def metrics_route(metrics: GatewayMetrics, path: str = METRICS_PATH) -> Route:
    """``GET path``: the metrics in Prometheus' text format."""

    async def endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route(path, endpoint, methods=["GET"])


def instrument(
    app: Starlette, metrics: GatewayMetrics | None = None, path: str = METRICS_PATH
) -> Starlette:
    """Add :class:`MetricsMiddleware` and the ``/metrics`` route to ``app``; returns ``app``.

    Call it before the application starts (Starlette builds its middleware stack then).
    """
    metrics = metrics or GatewayMetrics()
    app.router.routes.append(metrics_route(metrics, path))
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=app.router.routes)
    app.state.metrics = metrics
    return app
