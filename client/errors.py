"""Errors raised by the inspection client, classified by what the caller should do about them.

* :class:`TransientError` (and its :class:`InspectionTimeoutError`): the server could not be
  reached or was temporarily unavailable (connection refused, HTTP 503, gRPC ``UNAVAILABLE``,
  a timeout).
  Retried with exponential backoff by :class:`~loadcheck.client.retry.RetryPolicy`.
* :class:`RejectedInputError` (and its :class:`InvalidImageError`): the input was refused
  (HTTP 400, gRPC ``INVALID_ARGUMENT``, or bytes that are not an image the server accepts, as
  :func:`loadcheck.imageio.check_image` says). Never retried.
* :class:`ModelNotFoundError`: the integrator (ensemble) is not loaded on the server. Never retried.
* :class:`ServerError`: the server failed or answered something the client cannot read.
* :class:`TlsError`: the TLS handshake failed (the server's certificate is not trusted or does not
  name the host, the server wants a client certificate, or it does not speak TLS). Never retried:
  the settings must change.
"""

from __future__ import annotations


class InspectionError(Exception):
    """Base class of every error the inspection client raises."""

    #: True when retrying the same request later may succeed.
    retryable: bool = False


class TransientError(InspectionError):
    """The server was unreachable or temporarily unavailable; retrying later may succeed."""

    retryable = True


class InspectionTimeoutError(TransientError):
    """A request did not finish within the client's timeout."""


class RejectedInputError(InspectionError):
    """The server (or the client's own check) refused the input; retrying cannot help."""


class InvalidImageError(RejectedInputError):
    """The bytes are not an acceptable JPEG/PNG/BMP/WebP image (corrupt, or over a limit)."""


class ModelNotFoundError(InspectionError):
    """The requested integrator or ensemble is not loaded on the server."""


class ServerError(InspectionError):
    """The server failed (HTTP 500, gRPC ``INTERNAL``) or sent a response that does not decode."""


class TlsError(InspectionError):
    """The TLS handshake with the server failed; retrying with the same settings cannot help."""


def first_line(message: str, limit: int = 300) -> str:
    """The first line of a server message, cut to ``limit`` characters.

    Triton's Python backend appends a stack trace ("At: ...") to error messages; callers that
    show messages to other people (the gateway, the CLI) pass them through this first.
    """
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
