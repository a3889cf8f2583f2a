"""What the gateway does with its verdicts besides answering: records and webhooks.

:func:`open_gateway_recorder` opens the inspection records for ``loadcheck gateway``
(``--record auto|on|off``). The store is opened once at start to check its URL and schema; when
it cannot be reached then (PostgreSQL down, an unwritable SQLite file), the gateway serves all
the same and :class:`RetryingStore` tries again at the next record, at most every
:data:`REOPEN_EVERY_S` seconds; the records in between are dropped and counted
(``loadcheck_gateway_records_dropped_total{reason="write_failed"}``), the verdicts answered as
always. A bad URL or a database newer than this code stops the start with the reason.

:func:`webhook_settings` builds the webhook settings from the command's options.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from loadcheck.environment import DATABASE_URL

if TYPE_CHECKING:
    from loadcheck.monitoring.webhooks import WebhookSettings
    from loadcheck.records.model import InspectionRecord
    from loadcheck.records.recorder import Recorder
    from loadcheck.records.store import RecordStore

LOGGER = logging.getLogger(__name__)

#: ``--record`` values.
RECORD_MODES: Final = ("auto", "on", "off")
#: Seconds between two attempts to open a store that could not be reached.
REOPEN_EVERY_S: Final = 5.0
#: ``--webhook-on`` values and what they choose.
WEBHOOK_CHOICES: Final = ("unqualified", "qualified", "no-mine", "needs-review")


class GatewaySetupError(ValueError):
    """A setting of the gateway that cannot work; the message says what is expected."""


class StoreUnavailableError(RuntimeError):
    """The records store could not be opened (recently); the record is dropped."""


class RetryingStore:
    """A :class:`~loadcheck.records.writer.RecordSink` that opens its
    :class:`~loadcheck.records.store.RecordStore` when first needed and again after a failed
    open (at most every ``reopen_every_s``); an open store reconnects by itself (its pool
    checks connections before use).

    Args:
        url: the store's SQLAlchemy URL.
        store: an already open store (``None``: opened at the first record).
    """

    def __init__(
        self, url: str, store: RecordStore | None = None, *, reopen_every_s: float = REOPEN_EVERY_S
    ) -> None:
        self.url = url
        self._store = store
        self._reopen_every_s = reopen_every_s
        self._next_open = 0.0
        self._lock = threading.Lock()

    def _opened(self) -> RecordStore:
        with self._lock:
            if self._store is not None:
                return self._store
            now = time.monotonic()
            if now < self._next_open:
                wait_s = self._next_open - now
                raise StoreUnavailableError(
                    f"the records store could not be opened; next try in {wait_s:.1f} s"
                )
            from loadcheck.records.store import RecordStore

            try:
                self._store = RecordStore(self.url)
            except Exception:
                self._next_open = now + self._reopen_every_s
                raise
            LOGGER.info("records store opened: %s", self._store)
            return self._store

    def add(self, record: InspectionRecord, photo: bytes | None = None) -> InspectionRecord:
        return self._opened().add(record, photo)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def should_record(mode: str, database: str | None, home: Path) -> bool:
    """Whether ``--record mode`` records: ``on``; ``off``; ``auto`` when a database is named
    (``--database`` or ``$LOADCHECK_DATABASE_URL``) or the workspace folder ``home`` exists."""
    if mode not in RECORD_MODES:
        raise GatewaySetupError(
            f"--record: expected one of {', '.join(RECORD_MODES)}, got {mode!r}"
        )
    if mode == "auto":
        return bool(database or DATABASE_URL.is_set() or home.is_dir())
    return mode == "on"


def open_gateway_recorder(mode: str, database: str | None, home: Path) -> Recorder | None:
    """The gateway's recorder, or ``None`` when ``mode`` says not to record (see
    :func:`should_record`).

    Raises:
        GatewaySetupError: the records extra is missing (``auto`` warns and returns ``None``
            instead), the URL is not one the store runs on, or the database's schema is newer
            than this code.
    """
    if not should_record(mode, database, home):
        LOGGER.info(
            "not recording verdicts (--record %s; no database named and no workspace at %s)",
            mode,
            home,
        )
        return None
    try:
        from loadcheck.records.engine import database_url, make_engine, redact
        from loadcheck.records.migrations import SchemaError
        from loadcheck.records.model import RecordError
        from loadcheck.records.recorder import Recorder
        from loadcheck.records.store import RecordStore
    except ImportError as exc:
        message = (
            f"recording needs the records extra ({exc.name} is missing): "
            'pip install "loadcheck[records]", or start with --record off'
        )
        if mode == "on":
            raise GatewaySetupError(message) from None
        LOGGER.warning("not recording verdicts: %s", message)
        return None
    try:
        url = database_url(database, home)
        make_engine(url).dispose()  # a bad URL is named now
    except RecordError as exc:
        raise GatewaySetupError(str(exc)) from None
    except OSError as exc:
        raise GatewaySetupError(f"the records folder {home}: {exc}") from None
    store: RecordStore | None
    try:
        store = RecordStore(url)
    except SchemaError as exc:
        raise GatewaySetupError(str(exc)) from None
    except Exception as exc:  # unreachable now: serve, and retry the store at each record
        LOGGER.warning(
            "the records store %s cannot be opened (%s: %s); serving all the same, verdicts are "
            "not recorded until it can be (tried again every %.0f s)",
            redact(url),
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            REOPEN_EVERY_S,
        )
        store = None
    else:
        LOGGER.info("recording verdicts in %s", store)
    return Recorder(RetryingStore(url, store), recorded_by="gateway", close_sink=True)


def webhook_settings(
    url: str | None, secret: str | None, on: str, *, timeout_s: float = 5.0
) -> WebhookSettings | None:
    """The webhook settings of ``--webhook-url``, ``--webhook-secret`` and ``--webhook-on``
    (comma-separated :data:`WEBHOOK_CHOICES`); ``None`` without a URL.

    Raises:
        GatewaySetupError: a URL without a secret, an unknown choice, or settings that
            :class:`~loadcheck.monitoring.webhooks.WebhookSettings` refuses.
    """
    if not url:
        return None
    from loadcheck.monitoring.webhooks import WebhookError, WebhookSettings
    from loadcheck.payloads import Verdict

    if not secret:
        raise GatewaySetupError(
            "--webhook-url needs --webhook-secret (LOADCHECK_WEBHOOK_SECRET): the posts are "
            "signed with it"
        )
    chosen = {c.strip().lower() for c in on.split(",") if c.strip()}
    unknown = sorted(chosen - set(WEBHOOK_CHOICES))
    if unknown or not chosen:
        raise GatewaySetupError(
            f"--webhook-on: expected a comma-separated list of {', '.join(WEBHOOK_CHOICES)}, "
            f"got {on!r}"
        )
    by_choice = {
        "unqualified": Verdict.UNQUALIFIED,
        "qualified": Verdict.QUALIFIED,
        "no-mine": Verdict.NO_MINE_DETECTED,
    }
    try:
        return WebhookSettings(
            url=url,
            secret=secret.encode(),
            verdicts=frozenset(by_choice[c] for c in chosen if c in by_choice),
            needs_review="needs-review" in chosen,
            timeout_s=timeout_s,
        )
    except WebhookError as exc:
        raise GatewaySetupError(str(exc)) from None
