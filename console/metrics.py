"""Prometheus metrics of the console process, served on their own port.

Streamlit re-runs a page's script at every interaction, but imported modules stay loaded: the
counters here live once per process, and :func:`start_server` starts the HTTP server at most
once (a lock and a module flag), on ``$LOADCHECK_CONSOLE_METRICS_PORT`` (unset or empty: no
server; the containers set 9101). It listens on ``$LOADCHECK_CONSOLE_METRICS_ADDRESS``
(default ``127.0.0.1``; the containers listen on every interface).

===========================================  =========  ==========================================
metric                                       kind       labels
===========================================  =========  ==========================================
``loadcheck_console_logins_total``           counter    ``outcome``: ok, refused, throttled, busy
``loadcheck_console_actions_total``          counter    ``action`` (fit, deploy, rollback, ...),
                                                        ``outcome``: ok, failed
``loadcheck_console_uploads_total``          counter    —
``loadcheck_console_upload_bytes_total``     counter    —
``loadcheck_console_errors_total``           counter    ``where``: action, page
``loadcheck_console_drift_max_psi``          gauge      integrator, camera (``""``: all cameras)
``loadcheck_console_drift_shifted_features`` gauge      integrator, camera
``loadcheck_console_drift_records``          gauge      integrator, camera
===========================================  =========  ==========================================

``action`` is a fixed slug of the console's admin actions (:data:`ACTIONS`); other uses of
:func:`~loadcheck.console.widgets.action` (reads such as the model status) are not counted there,
only their failures in ``loadcheck_console_errors_total``. The drift gauges come from a
collector (:class:`DriftCollector`) that reads the records store and the served versions'
references (:mod:`loadcheck.monitoring.served_drift`) at a scrape, at most every
:data:`DRIFT_REFRESH_S` seconds (a cached result in between); an integrator without a figure
(no reference, too few records) has no series.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadcheck.environment import CONSOLE_METRICS_ADDRESS, CONSOLE_METRICS_PORT

LOG = logging.getLogger(__name__)

#: Seconds a drift measurement is kept before a scrape measures again.
DRIFT_REFRESH_S = 300.0
#: The admin actions counted, by the text the pages give :func:`loadcheck.console.widgets.action`.
ACTIONS = {
    "fitting": "fit",
    "deploying": "deploy",
    "rolling back": "rollback",
    "undeploying": "undeploy",
    "rotating the gateway token": "rotate_token",
    "creating the integrator": "create",
    "saving the settings": "settings",
    "adding data": "add_data",
    "clearing data": "clear_data",
    "testing": "test",
    "segmenting": "segment",
    "correcting the verdict": "correct",
    "applying the segmentator settings": "segmentator_settings",
    "loading the segmentator": "segmentator_load",
    "undeploying the segmentator": "segmentator_undeploy",
}
LOGIN_OUTCOMES = ("ok", "refused", "throttled", "busy")
#: Every series name this module publishes (the dashboard and the alert rules may read these).
METRIC_NAMES = (
    "loadcheck_console_logins_total",
    "loadcheck_console_actions_total",
    "loadcheck_console_uploads_total",
    "loadcheck_console_upload_bytes_total",
    "loadcheck_console_errors_total",
    "loadcheck_console_drift_max_psi",
    "loadcheck_console_drift_shifted_features",
    "loadcheck_console_drift_records",
)

REGISTRY = CollectorRegistry()
LOGINS = Counter(
    "loadcheck_console_logins", "Console login attempts by outcome.", ["outcome"], registry=REGISTRY
)
ACTIONS_TOTAL = Counter(
    "loadcheck_console_actions",
    "Console admin actions by action and outcome.",
    ["action", "outcome"],
    registry=REGISTRY,
)
UPLOADS = Counter("loadcheck_console_uploads", "Files uploaded to the console.", registry=REGISTRY)
UPLOAD_BYTES = Counter(
    "loadcheck_console_upload_bytes", "Bytes uploaded to the console.", registry=REGISTRY
)
ERRORS = Counter(
    "loadcheck_console_errors",
    "Console failures shown to an admin: a failed action, or a page that failed.",
    ["where"],
    registry=REGISTRY,
)
for _outcome in LOGIN_OUTCOMES:
    LOGINS.labels(outcome=_outcome)
for _where in ("action", "page"):
    ERRORS.labels(where=_where)
for _action in ACTIONS.values():  # every series from zero: rate() sees the first
    for _result in ("ok", "failed"):
        ACTIONS_TOTAL.labels(action=_action, outcome=_result)

_LOCK = threading.Lock()
_SERVER: dict[str, Any] = {}


def count_login(outcome: str) -> None:
    LOGINS.labels(outcome=outcome if outcome in LOGIN_OUTCOMES else "refused").inc()


def count_action(what: str, ok: bool) -> None:
    """Count an admin action of :data:`ACTIONS` by outcome; a failure of any action (reads such
    as "reading the model status" included) counts as an error."""
    slug = ACTIONS.get(what)
    if slug is not None:
        ACTIONS_TOTAL.labels(action=slug, outcome="ok" if ok else "failed").inc()
    if not ok:
        ERRORS.labels(where="action").inc()


def count_upload(size_bytes: int) -> None:
    UPLOADS.inc()
    UPLOAD_BYTES.inc(max(0, int(size_bytes)))


def count_page_error() -> None:
    ERRORS.labels(where="page").inc()


class DriftCollector(Collector):
    """Drift gauges per integrator (all cameras, ``camera=""``) and per recorded camera,
    measured at a scrape at most every ``refresh_s`` seconds."""

    def __init__(
        self,
        home: Path | str | None,
        repository: str | None,
        *,
        refresh_s: float = DRIFT_REFRESH_S,
        clock: Any = time.monotonic,
    ) -> None:
        self.home, self.repository = home, repository
        self.refresh_s, self.clock = refresh_s, clock
        self._lock = threading.Lock()
        self._at: float | None = None
        self._cached: list[Metric] = []
        self.measurements = 0

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = self.clock()
            if self._at is None or now - self._at >= self.refresh_s:
                try:
                    self._cached = self._measure()
                except Exception as exc:  # a database down: keep serving the other metrics
                    LOG.warning("console drift metrics: %s: %s", type(exc).__name__, exc)
                    self._cached = []
                self._at = now
            yield from self._cached

    def _measure(self) -> list[Metric]:
        from loadcheck.integrators.store import IntegratorStore
        from loadcheck.monitoring.served_drift import assess_drift, recorded_cameras
        from loadcheck.records.store import RecordStore

        self.measurements += 1
        labels = ["integrator", "camera"]
        psi = GaugeMetricFamily(
            "loadcheck_console_drift_max_psi",
            "Largest PSI over the features of the newest records against the served version's "
            "fitting data (camera empty: every camera).",
            labels=labels,
        )
        shifted = GaugeMetricFamily(
            "loadcheck_console_drift_shifted_features",
            "Features that shifted a lot or lie often outside the fitting range.",
            labels=labels,
        )
        used = GaugeMetricFamily(
            "loadcheck_console_drift_records",
            "Records with features behind the drift figure.",
            labels=labels,
        )
        store = IntegratorStore(self.home, self.repository)
        with RecordStore(home=store.ws.home) as records:
            for row in store.list_all():
                name = str(row["name"])
                for camera in (None, *recorded_cameras(records, name)):
                    result = assess_drift(store, records, name, camera=camera)
                    if not result.findings:
                        continue
                    values = [name, camera or ""]
                    psi.add_metric(values, result.max_psi)
                    flagged = {f.name for f in (*result.shifted, *result.out_of_range)}
                    shifted.add_metric(values, len(flagged))
                    used.add_metric(values, result.n_used)
        return [psi, shifted, used]


def listen_address() -> str:
    """The address the metrics server listens on (``$LOADCHECK_CONSOLE_METRICS_ADDRESS``)."""
    return CONSOLE_METRICS_ADDRESS.get_text()


def configured_port() -> int | None:
    """``$LOADCHECK_CONSOLE_METRICS_PORT`` as a port (``None``: unset or empty).

    Raises:
        ValueError: not a whole number in 1..65535 (the message names the variable).
    """
    text = CONSOLE_METRICS_PORT.get()
    if not text:
        return None
    try:
        port = int(text)
    except ValueError:
        raise ValueError(
            f"${CONSOLE_METRICS_PORT.name}: expected a port number, got {text!r}"
        ) from None
    if not 1 <= port <= 65535:
        raise ValueError(f"${CONSOLE_METRICS_PORT.name}: expected 1 to 65535, got {port}")
    return port


def start_server(
    home: Path | str | None, repository: str | None, port: int | None = None
) -> int | None:
    """Serve :data:`REGISTRY` (with a :class:`DriftCollector`) once per process; returns the
    port, or ``None`` when no port is configured or the port cannot be opened (logged once;
    not retried in this process).

    Raises:
        ValueError: the port variable is not a whole number in 1..65535.
    """
    if port is None:
        port = configured_port()
        if port is None:
            return None
    if not 1 <= port <= 65535:
        raise ValueError(f"${CONSOLE_METRICS_PORT.name}: expected 1 to 65535, got {port}")
    with _LOCK:
        if "port" in _SERVER:
            return int(_SERVER["port"])
        if "error" in _SERVER:  # tried once in this process: do not retry at every rerun
            return None
        collector = DriftCollector(home, repository)
        REGISTRY.register(collector)
        address = listen_address()
        try:
            server, thread = start_http_server(port, addr=address, registry=REGISTRY)
        except OSError as exc:
            REGISTRY.unregister(collector)
            _SERVER["error"] = str(exc)
            LOG.warning("console metrics: cannot listen on %s:%d: %s", address, port, exc)
            return None
        _SERVER.update(port=port, server=server, thread=thread, collector=collector)
        LOG.info("console metrics on port %d", port)
        return port


def stop_server() -> None:
    """Stop the server :func:`start_server` started (tests)."""
    with _LOCK:
        server = _SERVER.pop("server", None)
        collector = _SERVER.pop("collector", None)
        _SERVER.clear()
    if server is not None:
        server.shutdown()
        server.server_close()
    if collector is not None:
        REGISTRY.unregister(collector)
