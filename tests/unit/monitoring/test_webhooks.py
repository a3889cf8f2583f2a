"""Signed webhooks of verdicts against a receiver on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadcheck.monitoring.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    VerdictEvent,
    WebhookError,
    WebhookSender,
    WebhookSettings,
    verify_signature,
)
from loadcheck.payloads import Verdict

SECRET = b"0123456789abcdef-secret"


@dataclass
class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200); ``hold`` blocks."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.posts.append((dict(self.headers), body))
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(30)
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/verdicts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    if state.hold is not None:
        state.hold.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


def _settings(url: str, **kw: object) -> WebhookSettings:
    return WebhookSettings(url, SECRET, backoff_s=0.01, max_backoff_s=0.05, timeout_s=5, **kw)  # type: ignore[arg-type]


def _event(verdict: Verdict = Verdict.UNQUALIFIED, **kw: object) -> VerdictEvent:
    return VerdictEvent("site_a", verdict, 0.12, 0.5, **kw)  # type: ignore[arg-type]


def test_unqualified_verdicts_arrive_signed_and_others_are_not_posted(receiver: Receiver) -> None:
    with WebhookSender(_settings(receiver.url)) as sender:
        assert sender.submit(_event(request_id="photo-7"))
        assert not sender.submit(_event(Verdict.QUALIFIED))
        assert not sender.submit(_event(Verdict.NO_MINE_DETECTED))
    assert sender.delivered == 1 and sender.failed == 0
    ((headers, body),) = receiver.posts
    assert verify_signature(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(
        b"another-secret-of-16", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]
    )
    assert not verify_signature(
        SECRET, headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER]
    )
    assert b'"verdict": "Unqualified"' in body and b'"request_id": "photo-7"' in body
    assert headers["Content-Type"] == "application/json"


def test_a_replayed_post_is_refused_by_its_old_timestamp(receiver: Receiver) -> None:
    with WebhookSender(_settings(receiver.url)) as sender:
        sender.submit(_event())
    ((headers, body),) = receiver.posts
    sent = int(headers[TIMESTAMP_HEADER])
    signature = headers[SIGNATURE_HEADER]
    assert verify_signature(SECRET, str(sent), body, signature, now=sent + 60)
    assert not verify_signature(SECRET, str(sent), body, signature, now=sent + 3600)


def test_a_failing_receiver_gets_retries_with_one_delivery_id(receiver: Receiver) -> None:
    receiver.statuses = [503, 500, 429]
    with WebhookSender(_settings(receiver.url)) as sender:
        sender.submit(_event())
    assert sender.delivered == 1
    assert len(receiver.posts) == 4
    assert len({headers[DELIVERY_HEADER] for headers, _ in receiver.posts}) == 1


def test_a_refusing_receiver_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    with WebhookSender(_settings(receiver.url)) as sender:
        sender.submit(_event())
    assert len(receiver.posts) == 1 and sender.failed == 1 and sender.delivered == 0


def test_a_receiver_that_hangs_delays_no_caller_and_a_full_queue_drops(
    receiver: Receiver,
) -> None:
    receiver.hold = threading.Event()
    sender = WebhookSender(_settings(receiver.url, queue_size=3)).start()
    assert sender.submit(_event())
    assert receiver.arrived.wait(10), "the first event reached the receiver"
    # the receiver holds the first post: the next three wait in the queue, the fifth is dropped
    assert [sender.submit(_event()) for _ in range(4)] == [True, True, True, False]
    assert len(receiver.posts) == 1 and sender.dropped == 1
    receiver.hold.set()
    sender.close()
    assert sender.delivered == 4 and len(receiver.posts) == 4


def test_a_down_receiver_costs_the_caller_nothing_and_events_fail_after_the_attempts() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = WebhookSender(_settings(f"http://127.0.0.1:{port}/", max_attempts=3)).start()
    assert all(sender.submit(_event()) for _ in range(5))
    sender.close()
    assert sender.failed == 5 and sender.delivered == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://example.com/x"}, r"expected http\(s\)://host"),
        ({"url": "http:///nohost"}, r"expected http\(s\)://host"),
        ({"secret": b"short"}, "at least 16 bytes, got 5"),
        ({"queue_size": 0}, "expected >= 1"),
        ({"timeout_s": 0}, "timeout_s must be > 0"),
    ],
)
def test_settings_that_cannot_work_are_refused(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"url": "http://127.0.0.1:9/x", "secret": SECRET, **kwargs}
    with pytest.raises(WebhookError, match=message):
        WebhookSettings(**values)  # type: ignore[arg-type]
