"""Signed webhooks of verdicts: each chosen verdict POSTed to a configured URL, in the background.

:class:`WebhookSender` never delays its caller: :meth:`~WebhookSender.submit` puts the event on a
bounded queue and returns (a full queue drops the event, counted and logged); one daemon thread
posts the queue's events in order, retrying connection errors, timeouts, 429 and 5xx answers with
exponential back-off, and giving up on other 4xx answers (the receiver refuses the event).

Each POST carries the event as JSON (:class:`VerdictEvent`) and these headers:

* ``X-Loadcheck-Delivery``: the event's id, the same on every retry (receivers deduplicate on it);
* ``X-Loadcheck-Timestamp``: Unix seconds of this attempt;
* ``X-Loadcheck-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed by the shared secret, of
  ``"<timestamp>." + body``. A receiver checks it with :func:`verify_signature` (which refuses
  timestamps older than five minutes: a replayed post fails).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from loadcheck.payloads import Verdict

LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Loadcheck-Signature"
TIMESTAMP_HEADER = "X-Loadcheck-Timestamp"
DELIVERY_HEADER = "X-Loadcheck-Delivery"
#: Timestamps further than this from the receiver's clock are refused by verify_signature.
SIGNATURE_TOLERANCE_S = 300


class WebhookError(ValueError):
    """Webhook settings that cannot work (the message says what is expected)."""


@dataclass(frozen=True)
class VerdictEvent:
    """One verdict to report.

    Attributes:
        integrator: the integrator (camera) that answered.
        verdict: the verdict.
        probability / threshold: the score and the integrator's threshold.
        observed_at: ISO 8601 UTC time of the verdict.
        request_id: the caller's id of the photo, if any (the gateway's request id).
        camera: the camera of the token that sent the photo, if it has one.
        needs_review: whether the verdict was flagged "needs review".
        event_id: unique id of the event (the delivery header).
    """

    integrator: str
    verdict: Verdict
    probability: float
    threshold: float
    observed_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds")
    )
    request_id: str | None = None
    camera: str | None = None
    needs_review: bool = False
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": self.event_id,
                "integrator": self.integrator,
                "verdict": self.verdict.value,
                "probability": round(float(self.probability), 6),
                "threshold": round(float(self.threshold), 6),
                "observed_at": self.observed_at,
                "request_id": self.request_id,
                "camera": self.camera,
                "needs_review": self.needs_review,
            },
            sort_keys=True,
        ).encode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """Whether ``signature`` is the sender's for ``body`` and ``timestamp`` is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


@dataclass(frozen=True)
class WebhookSettings:
    """Where and how verdicts are posted.

    Attributes:
        url: ``http://`` or ``https://`` URL of the receiver.
        secret: the shared HMAC key (at least 16 bytes).
        verdicts: the verdicts that are posted (default: Unqualified only).
        needs_review: also post every verdict flagged "needs review", whatever it is.
        queue_size: events waiting at most; more are dropped.
        timeout_s: per attempt (connect and answer).
        max_attempts: attempts per event, the first included.
        backoff_s / max_backoff_s: wait before the second attempt, doubled each time, capped.
    """

    url: str
    secret: bytes
    verdicts: frozenset[Verdict] = frozenset({Verdict.UNQUALIFIED})
    needs_review: bool = False
    queue_size: int = 1000
    timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookError(
                f"webhook url: expected http(s)://host[:port]/path, got {self.url!r}"
            )
        if len(self.secret) < 16:
            raise WebhookError(
                f"webhook secret: expected at least 16 bytes, got {len(self.secret)}"
            )
        if self.queue_size < 1 or self.max_attempts < 1:
            raise WebhookError(
                f"webhook queue_size and max_attempts: expected >= 1, got {self.queue_size} "
                f"and {self.max_attempts}"
            )
        if self.timeout_s <= 0 or self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise WebhookError(
                "webhook timeout_s must be > 0 and 0 <= backoff_s <= max_backoff_s, got "
                f"{self.timeout_s}, {self.backoff_s}, {self.max_backoff_s}"
            )


class _RefusedError(Exception):
    """The receiver answered a 4xx other than 429: retrying will not help."""


class WebhookSender:
    """Posts :class:`VerdictEvent` in a background thread (see the module docstring).

    Use as a context manager, or :meth:`start` and :meth:`close`. Counters: ``delivered``,
    ``dropped`` (queue full), ``failed`` (attempts exhausted or refused).
    """

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self._queue: queue.Queue[VerdictEvent | None] = queue.Queue(settings.queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadcheck-webhooks", daemon=True)
        self._lock = threading.Lock()
        self.delivered = self.dropped = self.failed = 0

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def __enter__(self) -> WebhookSender:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, event: VerdictEvent) -> bool:
        """Queue ``event`` if it is posted (its verdict is chosen, or it needs review and those
        are chosen); never blocks. False: not posted or dropped."""
        chosen = event.verdict in self.settings.verdicts or (
            self.settings.needs_review and event.needs_review
        )
        if not chosen:
            return False
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            LOGGER.warning(
                "webhook queue full (%d events): dropped %s of %s",
                self.settings.queue_size,
                event.verdict.value,
                event.integrator,
            )
            return False
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Post what is queued for up to ``timeout_s``, then stop (what is left is not sent)."""
        if not self._thread.is_alive():
            return
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)  # after the queued events
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()  # ends back-off waits of an event still being retried
        self._thread.join(self.settings.timeout_s + 1.0)
        left = self._queue.qsize()
        if left:
            LOGGER.warning("webhooks stopped with %d events not sent", left)

    def _run(self) -> None:
        while not self._stop.is_set():
            event = self._queue.get()
            if event is None:
                return
            ok = self._deliver(event)
            with self._lock:
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1

    def _deliver(self, event: VerdictEvent) -> bool:
        body = event.to_json()
        wait = self.settings.backoff_s
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                self._post(event, body)
                return True
            except _RefusedError as exc:
                LOGGER.warning("webhook refused event %s: %s; not retried", event.event_id, exc)
                return False
            except (OSError, urllib.error.URLError) as exc:
                LOGGER.info(
                    "webhook attempt %d/%d for %s failed: %s",
                    attempt,
                    self.settings.max_attempts,
                    event.event_id,
                    exc,
                )
            if attempt < self.settings.max_attempts and self._stop.wait(wait):
                break
            wait = min(wait * 2, self.settings.max_backoff_s)
        LOGGER.warning("webhook gave up on event %s (%s)", event.event_id, event.integrator)
        return False

    def _post(self, event: VerdictEvent, body: bytes) -> None:
        timestamp = int(time.time())
        headers: dict[str, Any] = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: event.event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.settings.secret, timestamp, body),
        }
        request = urllib.request.Request(self.settings.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                raise _RefusedError(f"HTTP {exc.code}") from None
            raise
