"""One logging setup for every ``loadcheck`` command: plain text lines, or JSON lines.

``loadcheck --log-format json ...`` (or ``LOADCHECK_LOG_FORMAT=json``) writes one JSON object per
line on stderr::

    {"time": "2026-12-05T23:10:04.120+00:00", "level": "INFO", "logger": "loadcheck.gateway.app",
     "message": "POST ...", "request_id": "4f1c..."}

``request_id`` is the id of the gateway request being answered (``null`` outside one): the
gateway sets it for each request (:data:`REQUEST_ID`, from a sane ``X-Request-ID`` header or
generated), returns it in the answer's ``X-Request-ID`` header and passes it to Triton as the
inference request's id. An exception's traceback goes into ``"exception"``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Final, TextIO

#: The log formats :func:`configure_logging` knows.
LOG_FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The id of the request being answered in this context (``None`` outside a request).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "loadcheck_request_id", default=None
)
#: A caller's ``X-Request-ID`` is kept when it matches this (else a new id is generated): what
#: Triton, log readers and HTTP headers all take without escaping.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def new_request_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """``header`` when it is a sane request id (1-128 characters of letters, digits and
    ``. _ : -``, starting with a letter or digit), else a new one."""
    if header is not None and _SANE_REQUEST_ID.match(header):
        return header
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from :data:`REQUEST_ID` (every handler's records get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message, request_id, and
    ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(
    *, level: int = logging.INFO, log_format: str = "text", stream: TextIO | None = None
) -> logging.Handler | None:
    """Send every log record to one stderr handler in ``log_format`` (``text`` or ``json``) at
    ``level``; returns the handler.

    Like :func:`logging.basicConfig`, it leaves a root logger alone that has handlers it did not
    install (a test runner's, an embedding application's) and returns ``None`` then; a handler
    it installed before is replaced (the gateway's ``--log-format`` after the command's).

    Raises:
        ValueError: another format.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _OURS, False)]
    if len(ours) != len(root.handlers):
        return None
    handler: logging.Handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _OURS, True)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


_OURS = "_loadcheck_handler"
