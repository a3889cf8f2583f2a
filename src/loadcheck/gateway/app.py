"""The legacy-compatible HTTP gateway (ASGI, Starlette).

Contract of the replaced system, kept byte for byte where plants depend on it::

    POST /quality_detector/handle_image_post/<token>/   multipart/form-data, file field "image"
    -> 200 {"score_result": "Qualified" | "Unqualified" | "No Mine Detected"}

``?detail=1`` adds ``probability``, ``threshold``, ``features`` and ``feature_spec_version``.
Errors are JSON ``{"error": "<reason>"}``, never a traceback:

=====  ===========================================================================
400    no multipart body, or no file field ``image``
404    unknown token (or its integrator is not deployed on Triton)
408    the body did not arrive within the body timeout, or too slowly (the connection is
       closed); headers that do not arrive in time are answered 408 by the server
413    body over the configured limit
422    the file is not an image the pipeline accepts (the reason says why); its header is
       checked (format, pixel limit) before any decoding, off the event loop
502    Triton failed on the request
503    Triton unreachable or unavailable, or ``max_in_flight`` uploads already in progress
       (with ``Retry-After``)
500    a bug in the gateway (logged with its traceback, body without it)
=====  ===========================================================================

``GET /healthz`` answers 200 while the process runs; ``GET /readyz`` answers 200 only when Triton
is ready (else 503 with ``Retry-After``), for load balancers. ``GET /metrics`` serves Prometheus
metrics (:mod:`loadcheck.gateway.metrics`).

Every answer carries ``X-Request-ID``: the caller's, when it sent a sane one, else a new id
(:mod:`loadcheck.gateway.request_ids`); the request's log lines and its Triton inference carry
the same id. After a verdict is answered, it is handed to the ``recorder`` (its record, with the
photo, integrator, camera and the request id as the record's source) and to the ``webhooks``
sender; both only queue, so neither delays nor fails the answer.

The body is read once, as it arrives, keeping only the image (:mod:`loadcheck.gateway.upload`);
the server's own limits (header timeout, connection cap) are in :mod:`loadcheck.gateway.server`.

=================================  =======================  ================================
limit                              ``loadcheck gateway``    default
=================================  =======================  ================================
``max_body_bytes``                 ``--max-body-mb``        20 MiB (413 above)
``limits.header_timeout_s``        ``--header-timeout``     10 s (408, closed; the server)
``limits.body_timeout_s``          ``--body-timeout``       60 s (408, closed)
``limits.min_body_rate_bytes_s``   ``--min-body-rate-kib``  8 KiB/s after the first 5 s (408)
``limits.max_connections``         ``--max-connections``    256 (503 above; the server)
``limits.max_in_flight``           ``--max-in-flight``      16 uploads (503 above)
=================================  =======================  ================================

Each option has a ``LOADCHECK_GATEWAY_*`` variable (docs/client.md, "Gateway limits").
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loadcheck.client.errors import (
    InspectionError,
    InvalidImageError,
    ModelNotFoundError,
    RejectedInputError,
    TransientError,
    first_line,
)
from loadcheck.client.images import check_image_bytes
from loadcheck.gateway.limits import GatewayLimits
from loadcheck.gateway.metrics import GatewayMetrics, instrument
from loadcheck.gateway.request_ids import REQUEST_ID_HEADER, RequestIdMiddleware
from loadcheck.gateway.tokens import TokenBinding
from loadcheck.gateway.upload import (
    BodyLimits,
    BodyTooSlowError,
    ClientGoneError,
    UploadError,
    read_image_field,
)
from loadcheck.imageio import DEFAULT_MAX_PIXELS
from loadcheck.logs import REQUEST_ID
from loadcheck.payloads import InspectionResult

if TYPE_CHECKING:
    from loadcheck.monitoring.webhooks import WebhookSender
    from loadcheck.records.recorder import Recorder

logger = logging.getLogger(__name__)

LEGACY_ROUTE = "/quality_detector/handle_image_post/{token}/"
IMAGE_FIELD = "image"
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
DEFAULT_RETRY_AFTER_S = 5
#: Image checks (header, then a reduced decode) running at once; more requests wait their turn.
DEFAULT_MAX_CONCURRENT_CHECKS = 4
_TRUE = {"1", "true", "yes", "on"}


class InferenceBackend(Protocol):
    """What the gateway needs from inference (an :class:`AsyncInspectionClient` or a fake).
    ``roi`` (a camera's region of interest) is passed only for a camera that has one."""

    async def inspect(
        self,
        image: bytes,
        integrator: str,
        *,
        request_id: str | None = None,
        roi: Any = None,
    ) -> InspectionResult: ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


class TokenLookup(Protocol):
    """Maps a URL token to its source, an integrator and optional camera (blocking; called in a
    worker thread): the workspace's :class:`~loadcheck.gateway.tokens.TokenStore` or the
    published :class:`~loadcheck.gateway.token_source.PublishedTokens`."""

    def lookup(self, token: str) -> TokenBinding | None: ...


def error_response(
    status: int, reason: str, *, retry_after_s: int | None = None, close: bool = False
) -> JSONResponse:
    """``{"error": reason}`` with ``status`` (and ``Retry-After`` when given; ``close``: the
    server closes the connection after it)."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    if close:
        headers["Connection"] = "close"
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def legacy_body(result: InspectionResult, *, detail: bool) -> dict[str, Any]:
    """``{"score_result": ...}``; with ``detail`` also probability, threshold, features, the
    "needs review" flag (``needs_review``, ``review_reasons``: ``[{"code", "message"}]``) and
    ``provenance`` (``null`` from a server that predates it)."""
    body: dict[str, Any] = {"score_result": result.score_result.value}
    if detail:
        body["probability"] = round(result.probability, 6)
        body["threshold"] = round(result.threshold, 6)
        body["features"] = result.features.as_dict() if result.features is not None else None
        body["feature_spec_version"] = (
            result.features.spec_version if result.features is not None else None
        )
        body["needs_review"] = result.review.needs_review
        body["review_reasons"] = [r.to_dict() for r in result.review.reasons]
        body["provenance"] = result.provenance.to_dict() if result.provenance is not None else None
    return body


def create_app(
    backend: InferenceBackend,
    tokens: TokenLookup,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    retry_after_s: int = DEFAULT_RETRY_AFTER_S,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_concurrent_checks: int = DEFAULT_MAX_CONCURRENT_CHECKS,
    limits: GatewayLimits | None = None,
    recorder: Recorder | None = None,
    webhooks: WebhookSender | None = None,
    metrics: GatewayMetrics | None = None,
) -> Starlette:
    """The gateway ASGI application.

    Args:
        backend: runs inferences (closed when the application shuts down).
        tokens: resolves URL tokens; looked up on every request, so rotations apply at once.
        max_body_bytes: largest request body accepted (413 above).
        retry_after_s: ``Retry-After`` seconds sent with 503 answers.
        max_pixels: largest image accepted, in pixels as its header declares (422 above,
            nothing decoded); the serving pipeline's default.
        max_concurrent_checks: image checks running at once, in worker threads.
        limits: the body timeout and minimum rate (408), and the uploads in progress at once
            (``max_in_flight``; 503 with ``Retry-After`` above, nothing queued); the defaults of
            :class:`GatewayLimits` when None. The server applies its other fields.
        recorder: records every verdict (closed, after writing what is queued, when the
            application shuts down); ``None``: nothing recorded.
        webhooks: a started sender the verdicts are submitted to (it posts the ones its settings
            choose; closed at shutdown); ``None``: no webhooks.
        metrics: the registry ``/metrics`` serves (a new one when None); the recorder's and the
            sender's counters are added to it.
    """
    if max_concurrent_checks < 1:
        raise ValueError(f"max_concurrent_checks: expected >= 1, got {max_concurrent_checks}")
    limits = limits or GatewayLimits()
    body_limits = BodyLimits(
        max_bytes=max_body_bytes,
        timeout_s=limits.body_timeout_s,
        min_rate_bytes_s=limits.min_body_rate_bytes_s,
    )
    in_flight = [0]
    image_checks = anyio.CapacityLimiter(max_concurrent_checks)
    check = functools.partial(check_image_bytes, max_bytes=max_body_bytes, max_pixels=max_pixels)
    metrics = metrics or GatewayMetrics()
    if recorder is not None:
        metrics.watch_records(lambda: recorder.stats)
    if webhooks is not None:
        metrics.watch_webhooks(webhooks)

    async def handle_image_post(request: Request) -> Response:
        start = time.perf_counter()
        token = request.path_params["token"]
        if in_flight[0] >= limits.max_in_flight:
            logger.warning("%d uploads in progress: answering 503", in_flight[0])
            return error_response(
                503,
                f"the gateway is busy with {limits.max_in_flight} uploads; retry later",
                retry_after_s=retry_after_s,
            )
        in_flight[0] += 1
        try:
            binding = await run_in_threadpool(tokens.lookup, token)
            response = await _inspect(request, binding)
        finally:
            in_flight[0] -= 1
        logger.info(
            "POST token=%s… source=%s -> %d in %.1f ms",
            token[:4],
            binding,
            response.status_code,
            (time.perf_counter() - start) * 1000.0,
        )
        return response

    async def _inspect(request: Request, binding: TokenBinding | None) -> Response:
        if binding is None:
            return error_response(404, "unknown token")
        integrator = binding.integrator
        declared = request.headers.get("content-length", "")
        try:
            data = await read_image_field(
                request.receive,
                request.headers.get("content-type", ""),
                body_limits,
                field=IMAGE_FIELD,
                declared_length=int(declared) if declared.isdigit() else None,
            )
        except BodyTooSlowError as exc:
            logger.warning("%s", exc)
            return error_response(exc.status, str(exc), close=True)
        except ClientGoneError as exc:
            return error_response(exc.status, str(exc), close=True)
        except UploadError as exc:
            return error_response(exc.status, str(exc))
        try:  # header first, then a reduced decode: in a worker thread, a few at a time
            await anyio.to_thread.run_sync(check, data, limiter=image_checks)
        except InvalidImageError as exc:
            return error_response(422, str(exc))
        request_id = REQUEST_ID.get()
        try:
            # a camera's region of interest, passed only when it has one (fakes without it work)
            extra = {"roi": [list(p) for p in binding.roi]} if binding.roi is not None else {}
            result = await backend.inspect(data, integrator, request_id=request_id, **extra)
        except RejectedInputError as exc:
            metrics.triton_errors.labels("rejected").inc()
            return error_response(422, f"the image was rejected: {first_line(str(exc))}")
        except ModelNotFoundError:
            metrics.triton_errors.labels("not_deployed").inc()
            logger.warning("integrator %r has a token but is not deployed", integrator)
            return error_response(404, "the integrator of this URL is not deployed")
        except TransientError as exc:
            metrics.triton_errors.labels("unavailable").inc()
            logger.warning("Triton unavailable: %s", exc)
            return error_response(
                503, "the inference server is unavailable; retry later", retry_after_s=retry_after_s
            )
        except InspectionError as exc:
            metrics.triton_errors.labels("failed").inc()
            logger.error("inference failed for %r: %s", integrator, exc)
            return error_response(502, "the inference server failed on this request")
        detail = request.query_params.get("detail", "").lower() in _TRUE
        response = JSONResponse(legacy_body(result, detail=detail))
        _after_verdict(result, data, binding, request_id)
        return response

    def _after_verdict(
        result: InspectionResult, data: bytes, binding: TokenBinding, request_id: str | None
    ) -> None:
        """Queue the verdict's record and webhook; never raises, never waits."""
        needs_review = result.review.needs_review
        if recorder is not None:
            served = result.provenance  # None from a Triton that predates provenance
            try:
                recorder.record(
                    result,
                    data,
                    integrator=binding.integrator,
                    camera=binding.camera,
                    source=request_id,
                    needs_review=needs_review,
                    provenance=None if served is None else served.to_record(recorded_by="gateway"),
                )
            except Exception:  # a record that cannot be built must not cost the plant its answer
                metrics.records_invalid += 1
                logger.exception("the verdict's record could not be built (answered all the same)")
        if webhooks is not None:
            from loadcheck.monitoring.webhooks import VerdictEvent

            try:
                webhooks.submit(
                    VerdictEvent(
                        integrator=binding.integrator,
                        verdict=result.score_result,
                        probability=result.probability,
                        threshold=result.threshold,
                        request_id=request_id,
                        camera=binding.camera,
                        needs_review=needs_review,
                    )
                )
            except Exception:
                logger.exception(
                    "the verdict's webhook could not be queued (answered all the same)"
                )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            ready = await backend.ready()
        except InspectionError as exc:
            logger.warning("readiness check failed: %s", exc)
            ready = False
        if ready:
            return JSONResponse({"status": "ready"})
        return error_response(503, "the inference server is not ready", retry_after_s=retry_after_s)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        reason = exc.detail if isinstance(exc, HTTPException) else "error"
        return error_response(status, str(reason))

    async def internal_error(request: Request, exc: Exception) -> Response:
        # Runs outside the request-id middleware: the id is read back from the request's state.
        request_id = request.scope.get("state", {}).get("request_id")
        logger.exception(
            "unhandled error on %s %s",
            request.method,
            request.url.path,
            extra={"request_id": request_id},
        )
        response = error_response(500, "internal error")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backend.close()
            if webhooks is not None:
                await anyio.to_thread.run_sync(webhooks.close)
            if recorder is not None:
                stats = await anyio.to_thread.run_sync(recorder.close)
                logger.info(
                    "records: %d written, %d dropped, %d not written at shutdown",
                    stats.written,
                    stats.dropped,
                    stats.queued,
                )

    routes = [
        Route(LEGACY_ROUTE, handle_image_post, methods=["POST"]),
        Route(LEGACY_ROUTE.rstrip("/"), handle_image_post, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    instrument(app, metrics)
    app.add_middleware(RequestIdMiddleware)  # outermost: metrics and handlers run with the id
    return app
