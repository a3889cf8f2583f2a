"""Prometheus metrics of the gateway: an ASGI middleware and a ``/metrics`` route.

:func:`instrument` adds both to a Starlette application (one line where the gateway builds it)::

    app = instrument(Starlette(routes=routes, ...))

=============================================================  =========  ========================
metric                                                          kind       labels
=============================================================  =========  ========================
``loadcheck_gateway_requests_total``                            counter    route, method, status
``loadcheck_gateway_request_duration_seconds``                  histogram  route, method
``loadcheck_gateway_requests_in_progress``                      gauge      route, method
``loadcheck_gateway_triton_errors_total``                       counter    kind
``loadcheck_gateway_records_queued``                            gauge
``loadcheck_gateway_records_written_total``                     counter
``loadcheck_gateway_records_dropped_total``                     counter    reason
``loadcheck_gateway_webhooks_total``                            counter    outcome
=============================================================  =========  ========================

``kind`` of a Triton error: ``unavailable`` (answered 503), ``failed`` (502), ``rejected`` (the
image, 422) or ``not_deployed`` (404). The record and webhook series exist when the gateway
records (:class:`~loadcheck.records.recorder.Recorder`) or posts webhooks; they are read from the
writers' counters at each scrape. ``reason`` of a dropped record: ``queue_full`` (the store is
slow or down and the queue is full), ``write_failed`` (the store refused or could not be
reached), ``invalid`` (the record could not be built from the answer); ``outcome`` of a webhook:
``delivered``, ``failed`` (attempts exhausted or refused), ``dropped`` (queue full).

``route`` is the matched route's *template* (``/quality_detector/handle_image_post/{token}/``),
never the requested path: a plant's URL token is a secret and must not reach a metrics page.
Unmatched paths are counted as ``route="unmatched"``. Triton's failures are the gateway's 502
(Triton failed the request) and 503 (Triton unavailable, or the gateway busy) answers. Each
application gets its own :class:`~prometheus_client.CollectorRegistry`, so two applications (or
tests) in one process do not share counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
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
TRITON_ERRORS = "loadcheck_gateway_triton_errors_total"
RECORDS_QUEUED = "loadcheck_gateway_records_queued"
RECORDS_WRITTEN = "loadcheck_gateway_records_written_total"
RECORDS_DROPPED = "loadcheck_gateway_records_dropped_total"
WEBHOOKS = "loadcheck_gateway_webhooks_total"
#: Every series name the gateway can publish (a histogram's as Prometheus stores them), for the
#: checks that the dashboard and the alert rules read only what exists.
METRIC_NAMES = (
    REQUESTS_TOTAL,
    f"{REQUEST_DURATION}_bucket",
    f"{REQUEST_DURATION}_count",
    f"{REQUEST_DURATION}_sum",
    IN_PROGRESS,
    TRITON_ERRORS,
    RECORDS_QUEUED,
    RECORDS_WRITTEN,
    RECORDS_DROPPED,
    WEBHOOKS,
)
#: ``kind`` values of :data:`TRITON_ERRORS`.
TRITON_ERROR_KINDS = ("unavailable", "failed", "rejected", "not_deployed")


class RecordCounters(Protocol):
    """What the records collector reads (a :class:`~loadcheck.records.writer.WriterStats`)."""

    @property
    def written(self) -> int: ...
    @property
    def dropped_full(self) -> int: ...
    @property
    def dropped_failed(self) -> int: ...
    @property
    def queued(self) -> int: ...


class WebhookCounters(Protocol):
    """What the webhooks collector reads (a
    :class:`~loadcheck.monitoring.webhooks.WebhookSender`)."""

    delivered: int
    failed: int
    dropped: int


class _RecordsCollector(Collector):
    def __init__(self, stats: Callable[[], RecordCounters], invalid: Callable[[], int]) -> None:
        self._stats = stats
        self._invalid = invalid

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._stats()
        yield GaugeMetricFamily(
            RECORDS_QUEUED, "Inspection records waiting for the store", value=stats.queued
        )
        yield CounterMetricFamily(
            RECORDS_WRITTEN.removesuffix("_total"),
            "Inspection records the store accepted",
            value=stats.written,
        )
        dropped = CounterMetricFamily(
            RECORDS_DROPPED.removesuffix("_total"),
            "Inspection records not stored, by reason (the verdicts were answered all the same)",
            labels=("reason",),
        )
        dropped.add_metric(("queue_full",), stats.dropped_full)
        dropped.add_metric(("write_failed",), stats.dropped_failed)
        dropped.add_metric(("invalid",), self._invalid())
        yield dropped


class _WebhooksCollector(Collector):
    def __init__(self, sender: WebhookCounters) -> None:
        self._sender = sender

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            WEBHOOKS.removesuffix("_total"),
            "Verdict webhooks by outcome (delivered, failed, dropped)",
            labels=("outcome",),
        )
        family.add_metric(("delivered",), self._sender.delivered)
        family.add_metric(("failed",), self._sender.failed)
        family.add_metric(("dropped",), self._sender.dropped)
        yield family


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

        self.triton_errors = Counter(
            TRITON_ERRORS.removesuffix("_total"),
            "Inspections Triton did not answer with a verdict, by kind",
            ("kind",),
            registry=self.registry,
        )
        for kind in TRITON_ERROR_KINDS:
            self.triton_errors.labels(kind)
        self.records_invalid = 0

    def watch_records(self, stats: Callable[[], RecordCounters]) -> None:
        """Export the record writer's counters (``stats()`` is read at each scrape)."""
        self.registry.register(_RecordsCollector(stats, lambda: self.records_invalid))

    def watch_webhooks(self, sender: WebhookCounters) -> None:
        """Export a webhook sender's counters (read at each scrape)."""
        self.registry.register(_WebhooksCollector(sender))

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
