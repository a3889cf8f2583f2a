"""The gateway's HTTP server: uvicorn (h11) with the limits a public endpoint needs.

uvicorn closes an idle keep-alive connection, but nothing else: a client that trickles its
request headers (or the body of a request already answered) a byte at a time keeps its
connection, and a file descriptor, for as long as it likes. :func:`run_gateway` serves with
:func:`limited_protocol`, an ``H11Protocol`` that also

* closes a connection whose request line and headers do not arrive within
  :attr:`GatewayLimits.header_timeout_s` of its first byte (or of the connection), answering
  408 when part of a request came;
* closes a connection still sending the body of a request that was answered without reading it
  (404, 413, 503) when that body misses the deadline a read body has (whole within
  :attr:`GatewayLimits.body_timeout_s`, the minimum rate after the first seconds), counted from
  the answer;
* answers 503 (JSON, ``Retry-After``, ``Connection: close``) to the requests of connections
  beyond :attr:`GatewayLimits.max_connections`.

The application enforces the body deadline and the in-flight cap itself
(:func:`loadcheck.gateway.app.create_app`). :func:`tune_malloc` keeps large buffers in their own
mappings, so that memory freed after bursts of uploads goes back to the system.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from loadcheck.gateway.limits import GatewayLimits, body_deadline_s

logger = logging.getLogger(__name__)

#: Allocations from this size up get their own mapping (glibc ``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD_BYTES = 256 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def json_error_bytes(status: int, reason: str, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 response ``{"error": reason}`` that closes the connection."""
    body = json.dumps({"error": reason}).encode()
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, '')}".rstrip()]
    lines += ["content-type: application/json", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_PHRASES = {408: "Request Timeout", 503: "Service Unavailable"}


def _over_capacity_app(limits: GatewayLimits, retry_after_s: int) -> Any:
    reason = f"the gateway has {limits.max_connections} connections open; retry later"
    body = json.dumps({"error": reason}).encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after_s).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def limited_protocol(limits: GatewayLimits, retry_after_s: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the header timeout, the drain timeout and the connection cap
    of ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""
    over_capacity = _over_capacity_app(limits, retry_after_s)

    class LimitedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_for: str = ""  # "headers" or "drain" while a deadline is armed
        _drain_start = 0.0
        _drained = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                logger.warning("over %d connections: answering 503", limits.max_connections)
                self.app = over_capacity
            self._arm("headers")

        def data_received(self, data: bytes) -> None:
            if self._waiting_for == "drain":
                self._drained += len(data)
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:  # (the next) request line and headers
                if self._waiting_for != "headers":
                    self._arm("headers")
            elif self.conn.our_state is not h11.DONE:
                self._disarm()  # headers in: the application times the body
            elif self._waiting_for == "drain":
                self._arm("drain")  # more came: a later deadline

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()
            if (
                self.conn.our_state is h11.DONE
                and self.conn.their_state is h11.SEND_BODY
                and not self.transport.is_closing()
            ):
                self._arm("drain")  # answered without reading the body, which is still coming

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, waiting_for: str) -> None:
            if waiting_for == "drain" and self._waiting_for != "drain":
                self._drain_start, self._drained = self.loop.time(), 0
            self._disarm()
            if waiting_for == "headers":
                self._deadline = self.loop.call_later(
                    limits.header_timeout_s, self._headers_too_slow
                )
            else:
                deadline_s = body_deadline_s(
                    self._drained, limits.body_timeout_s, limits.min_body_rate_bytes_s
                )
                self._deadline = self.loop.call_at(self._drain_start + deadline_s, self._close)
            self._waiting_for = waiting_for

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = None
            self._waiting_for = ""

        def _headers_too_slow(self) -> None:
            self._deadline, self._waiting_for = None, ""
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a request came: say why it is closed
                reason = (
                    "the request line and headers did not arrive within "
                    f"{limits.header_timeout_s:g} s"
                )
                self.transport.write(json_error_bytes(408, reason))
            self.transport.close()

        def _close(self) -> None:
            self._deadline, self._waiting_for = None, ""
            if not self.transport.is_closing():
                self.transport.close()

    return LimitedH11Protocol


def tune_malloc(mmap_threshold_bytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve allocations of ``mmap_threshold_bytes`` and more from their own mappings (glibc).

    glibc raises its mmap threshold after each large free, up to 32 MiB, so that after a burst of
    20 MB uploads the next ones grow in the heap, whose freed memory is returned only from its
    top. A fixed threshold keeps every upload buffer in a mapping that ``free`` unmaps (three
    bursts of 32 x 19 MB: peak 663 instead of 820 MB, idle 84 instead of 111 MB; docs/client.md).
    Returns False where there is no glibc (the call does nothing there).
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold_bytes))


def gateway_config(
    app: Any,
    host: str,
    port: int,
    limits: GatewayLimits,
    *,
    retry_after_s: int = 5,
    log_level: str | None = None,
) -> uvicorn.Config:
    """The uvicorn configuration of the gateway: the limited h11 protocol, no WebSocket, no
    access log (it would write every URL token in clear; the app logs a token prefix), no
    ``Server`` header, and no logging setup of its own: uvicorn's lines go through the root
    logger's handler like every other (``--log-format json``: JSON lines too)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=limited_protocol(limits, retry_after_s),
        ws="none",
        server_header=False,
        access_log=False,
        log_config=None,
        log_level=log_level,
    )


def run_gateway(
    app: Any,
    host: str,
    port: int,
    limits: GatewayLimits,
    *,
    retry_after_s: int = 5,
    log_level: str | None = None,
) -> None:
    """Serve ``app`` until interrupted (see :func:`gateway_config`, :func:`tune_malloc`)."""
    tune_malloc()
    config = gateway_config(
        app, host, port, limits, retry_after_s=retry_after_s, log_level=log_level
    )
    uvicorn.Server(config).run()
