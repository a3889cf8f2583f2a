"""The published token source: the document holds hashes only, a gateway's copy is re-read after
its maximum age, and a failed or invalid read keeps the last good copy."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from loadcheck.gateway.token_source import (
    TOKENS_FILE,
    PublishedTokens,
    TokenSourceError,
    document_bytes,
    parse_document,
    publish_tokens,
)
from loadcheck.gateway.tokens import TokenBinding, TokenStore
from loadcheck.serving.storage import LocalRepository
from loadcheck.workspace import Workspace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class BrokenRepository(LocalRepository):
    """A folder repository whose reads fail while ``broken`` is set."""

    broken = False

    def read_bytes(self, key: str) -> bytes | None:
        if self.broken:
            raise OSError("storage unreachable")
        return super().read_bytes(key)


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(Workspace(tmp_path / "ws"))


@pytest.fixture
def repository(tmp_path: Path) -> BrokenRepository:
    return BrokenRepository(tmp_path / "repository")


def test_the_document_holds_sources_hashes_and_times_but_no_token(
    store: TokenStore, repository: BrokenRepository
) -> None:
    a = store.issue("site_a")
    b = store.issue("site_a", camera="lane-2")
    assert publish_tokens(store.all(), repository) == 2
    data = (repository.root / TOKENS_FILE).read_bytes()
    assert a.token.encode() not in data and b.token.encode() not in data
    entries = json.loads(data)["tokens"]
    assert [(e["integrator"], e["camera"]) for e in entries] == [
        ("site_a", None),
        ("site_a", "lane-2"),
    ]
    assert all(set(e) == {"integrator", "camera", "sha256", "rotated_at"} for e in entries)


def test_a_rotation_reaches_the_gateway_after_the_maximum_age(
    store: TokenStore, repository: BrokenRepository
) -> None:
    old = store.issue("site_a").token
    publish_tokens(store.all(), repository)
    clock = Clock()
    published = PublishedTokens(repository, max_age_s=3.0, clock=clock)
    assert published.lookup(old) == TokenBinding("site_a")
    new = store.rotate("site_a").token
    publish_tokens(store.all(), repository)
    clock.now += 2.9
    assert published.lookup(old) == TokenBinding("site_a")  # the copy in memory
    assert published.lookup(new) is None
    clock.now += 0.1
    assert published.lookup(old) is None
    assert published.lookup(new) == TokenBinding("site_a")


def test_a_failed_read_keeps_the_last_good_copy_and_logs_once(
    store: TokenStore, repository: BrokenRepository, caplog: pytest.LogCaptureFixture
) -> None:
    token = store.issue("site_a").token
    publish_tokens(store.all(), repository)
    clock = Clock()
    published = PublishedTokens(repository, max_age_s=1.0, clock=clock)
    repository.broken = True
    with caplog.at_level(logging.ERROR, logger="loadcheck.gateway.token_source"):
        for _ in range(3):
            clock.now += 1.0
            assert published.lookup(token) == TokenBinding("site_a")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "storage unreachable" in errors[0]
    assert "keeping the last 1" in errors[0]
    repository.broken = False
    store.revoke("site_a")
    publish_tokens(store.all(), repository)
    clock.now += 1.0
    assert published.lookup(token) is None


def test_an_invalid_document_keeps_the_last_good_copy(
    store: TokenStore, repository: BrokenRepository
) -> None:
    token = store.issue("site_a").token
    publish_tokens(store.all(), repository)
    clock = Clock()
    published = PublishedTokens(repository, max_age_s=1.0, clock=clock)
    (repository.root / TOKENS_FILE).write_text('{"format": "loadcheck-gateway-tokens", "tok')
    clock.now += 1.0
    assert not published.refresh()
    assert published.lookup(token) == TokenBinding("site_a")


def test_no_published_document_means_every_token_is_unknown(
    store: TokenStore, repository: BrokenRepository
) -> None:
    token = store.issue("site_a").token
    published = PublishedTokens(repository, max_age_s=0.0)
    assert len(published) == 0 and published.lookup(token) is None
    publish_tokens(store.all(), repository)
    assert published.lookup(token) == TokenBinding("site_a")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"format": "other"}', "expected an object with format"),
        (
            b'{"format": "loadcheck-gateway-tokens", "version": 2, "hash": "sha256"}',
            "this gateway reads version 1",
        ),
        (
            b'{"format": "loadcheck-gateway-tokens", "version": 1, "hash": "sha256", '
            b'"tokens": [{"integrator": "a", "camera": null, "sha256": "abc"}]}',
            r"tokens\[0\]: expected 'sha256' as 64 lowercase hex digits",
        ),
        (
            b'{"format": "loadcheck-gateway-tokens", "version": 1, "hash": "sha256", '
            b'"tokens": [{"integrator": "a", "camera": "Bad Name", "sha256": "'
            + b"0" * 64
            + b'"}]}',
            r"tokens\[0\]: camera name 'Bad Name'",
        ),
    ],
)
def test_a_malformed_document_is_refused_with_what_is_wrong(document: bytes, reason: str) -> None:
    with pytest.raises(TokenSourceError, match=reason):
        parse_document(document)


def test_the_document_round_trips(store: TokenStore) -> None:
    store.issue("b")
    store.issue("a", camera="gate")
    entries = parse_document(document_bytes(store.all()))
    assert [e.binding for e in entries] == [TokenBinding("a", "gate"), TokenBinding("b")]
    assert [e.sha256 for e in entries] == [r.token_sha256 for r in store.all()]


class SlowRepository(LocalRepository):
    """A folder repository whose reads wait for ``release`` once ``hold`` is set."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.hold = False
        self.reading = threading.Event()
        self.release = threading.Event()

    def read_bytes(self, key: str) -> bytes | None:
        if self.hold:
            self.reading.set()
            assert self.release.wait(10)
        return super().read_bytes(key)


def test_requests_use_the_copy_in_memory_while_one_request_rereads_it(
    store: TokenStore, tmp_path: Path
) -> None:
    repository = SlowRepository(tmp_path / "slow")
    token = store.issue("site_a").token
    publish_tokens(store.all(), repository)
    clock = Clock()
    published = PublishedTokens(repository, max_age_s=1.0, clock=clock)
    repository.hold = True
    clock.now += 1.0
    rereading = threading.Thread(target=published.lookup, args=(token,))
    rereading.start()
    assert repository.reading.wait(10)
    assert published.lookup(token) == TokenBinding("site_a")  # not blocked by the slow read
    repository.release.set()
    rereading.join(10)
    assert not rereading.is_alive()
