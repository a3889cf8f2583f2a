"""Reading the gateway's multipart upload: once, as it arrives, against a size limit and a deadline.

:func:`read_image_field` feeds each chunk the server receives to a streaming multipart parser
(python-multipart) and keeps only the bytes of the file field ``image``, written into one
buffer whose value is returned without a final copy (``io.BytesIO.getvalue`` hands over its own
buffer). Nothing else of the body is kept: the body is never joined, spooled to a file or read
back, so a request holds about one copy of its image (three to four before).

The body must arrive within :attr:`BodyLimits.timeout_s` and, after a grace of
:attr:`BodyLimits.rate_grace_s`, at :attr:`BodyLimits.min_rate_bytes_s` or faster (a client that
trickles its body is answered 408 rather than holding a request slot). Errors are
:class:`UploadError` subclasses that carry the HTTP status and a reason for the client.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from loadcheck.gateway.limits import RATE_GRACE_S, body_deadline_s

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

#: Parts a form may hold (the image and any text fields the legacy clients add).
MAX_PARTS = 32

Receive = Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class BodyLimits:
    """How much body a request may send, and how fast.

    Attributes:
        max_bytes: largest body, in bytes (413 above).
        timeout_s: seconds for the whole body, from the end of the request headers (408 after).
        min_rate_bytes_s: slowest accepted average rate in bytes/s once ``rate_grace_s`` has
            passed (0: none); a body must have sent ``min_rate_bytes_s * (t - rate_grace_s)``
            bytes by ``t`` seconds.
        rate_grace_s: seconds before the minimum rate applies.
    """

    max_bytes: int
    timeout_s: float
    min_rate_bytes_s: float
    rate_grace_s: float = RATE_GRACE_S

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes: expected >= 1, got {self.max_bytes}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s: expected > 0 seconds, got {self.timeout_s}")
        if self.min_rate_bytes_s < 0:
            raise ValueError(f"min_rate_bytes_s: expected >= 0, got {self.min_rate_bytes_s}")
        if self.rate_grace_s < 0:
            raise ValueError(f"rate_grace_s: expected >= 0 seconds, got {self.rate_grace_s}")

    def deadline_s(self, received: int) -> float:
        """Seconds after the headers by which more bytes must arrive, ``received`` so far."""
        return body_deadline_s(received, self.timeout_s, self.min_rate_bytes_s, self.rate_grace_s)


class UploadError(Exception):
    """The upload cannot be used; ``status`` is the HTTP answer and ``str(error)`` the reason."""

    status = 400


class MalformedUploadError(UploadError):
    """Not a multipart/form-data body with one file field ``image`` (400)."""


class ClientGoneError(UploadError):
    """The client disconnected before sending the whole body (400, for the log)."""


class BodyTooLargeError(UploadError):
    """The body is over :attr:`BodyLimits.max_bytes` (413)."""

    status = 413


class BodyTooSlowError(UploadError):
    """The body did not arrive in time (408; the connection is closed after the answer)."""

    status = 408


def form_boundary(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` content type.

    Raises:
        MalformedUploadError: another content type, or no boundary.
    """
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise MalformedUploadError(
            "expected a multipart/form-data body with a file field 'image', "
            f"got content type {content_type[:80]!r}"
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedUploadError("multipart/form-data content type without a boundary")
    return boundary


class _FieldCollector:
    """python-multipart callbacks that keep the bytes of one file field."""

    def __init__(self, field: str) -> None:
        self.field = field.encode()
        self.buffer: io.BytesIO | None = None
        self.complete = False
        self.ended = False
        self._parts = 0
        self._in_field = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MalformedUploadError(f"the form has more than {MAX_PARTS} parts")
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise MalformedUploadError("a form part has no name in its Content-Disposition header")
        if name != self.field:
            return
        field = self.field.decode()
        if b"filename" not in options:
            raise MalformedUploadError(
                f"form field {field!r} must be a file upload, not a text value"
            )
        if self.buffer is not None:
            raise MalformedUploadError(f"the form holds more than one file field {field!r}")
        self.buffer = io.BytesIO()
        self._in_field = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_field and self.buffer is not None:
            self.buffer.write(memoryview(data)[start:end])

    def on_part_end(self) -> None:
        if self._in_field:
            self._in_field = False
            self.complete = True

    def on_end(self) -> None:
        self.ended = True


async def read_image_field(
    receive: Receive,
    content_type: str,
    limits: BodyLimits,
    *,
    field: str = "image",
    declared_length: int | None = None,
) -> bytes:
    """The bytes of the file field ``field`` of a multipart/form-data body, read from ``receive``
    (the ASGI receive callable) as it arrives.

    A body over the limit is 413 even when it is also malformed (the rest is read, not kept, so
    that the size is known).

    Raises:
        BodyTooLargeError: ``declared_length`` or the bytes received are over the limit.
        BodyTooSlowError: the body missed its deadline (see :class:`BodyLimits`).
        MalformedUploadError: not multipart/form-data, malformed, cut before its closing
            boundary, or without exactly one file field ``field``.
        ClientGoneError: the client disconnected first.
    """
    if declared_length is not None and declared_length > limits.max_bytes:
        raise BodyTooLargeError(f"request body over the limit of {limits.max_bytes} bytes")
    collector = _FieldCollector(field)
    parser: MultipartParser | None = MultipartParser(
        form_boundary(content_type), collector.callbacks()
    )
    malformed: str | None = None
    received = 0
    start = time.monotonic()
    more = True
    while more:
        wait_s = limits.deadline_s(received) - (time.monotonic() - start)
        message: Mapping[str, Any] | None = None
        if wait_s > 0:
            with anyio.move_on_after(wait_s):
                message = await receive()
        if message is None:
            raise BodyTooSlowError(_too_slow(limits, received, declared_length, start))
        if message["type"] == "http.disconnect":
            raise ClientGoneError("the client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        received += len(chunk)
        if received > limits.max_bytes:
            raise BodyTooLargeError(f"request body over the limit of {limits.max_bytes} bytes")
        if parser is None or not chunk:
            continue
        try:
            parser.write(chunk)
        except (MalformedUploadError, FormParserError) as exc:  # read on: 413 goes first
            malformed = str(exc)
            if not isinstance(exc, MalformedUploadError):
                malformed = f"malformed multipart/form-data body: {exc}"
            parser, collector.buffer = None, None
    if malformed is not None:
        raise MalformedUploadError(malformed)
    if not collector.ended:
        raise MalformedUploadError(
            "malformed multipart/form-data body: it ends before its closing boundary"
        )
    if collector.buffer is None or not collector.complete:
        raise MalformedUploadError(f"missing form field {field!r}")
    return collector.buffer.getvalue()


def _too_slow(limits: BodyLimits, received: int, declared: int | None, start: float) -> str:
    of = f" of {declared}" if declared is not None else ""
    rate = (
        f", at {limits.min_rate_bytes_s:g} bytes/s or faster after the first "
        f"{limits.rate_grace_s:g} s"
        if limits.min_rate_bytes_s > 0
        else ""
    )
    return (
        f"the request body arrived too slowly: {received}{of} bytes in "
        f"{time.monotonic() - start:.1f} s; expected the whole body within "
        f"{limits.timeout_s:g} s{rate}"
    )
