"""The published, read-only token source of stateless gateways.

The console and ``loadcheck gateway rotate|revoke|tokens|publish`` write every token's hash into
one JSON document, ``loadcheck_gateway_tokens.json`` at the top of the model repository (a
folder or ``s3://``, through :mod:`loadcheck.serving.storage`: replaced as a whole, a reader sees
the old or the new one; Triton ignores top-level files)::

    {"format": "loadcheck-gateway-tokens", "version": 1, "hash": "sha256",
     "published_at": "2026-...Z",
     "tokens": [{"integrator": "site_a", "camera": null, "sha256": "<64 hex>",
                 "rotated_at": "2026-...Z"},
                {"integrator": "site_a", "camera": "gate-2", "sha256": "<64 hex>",
                 "rotated_at": "2026-...Z", "roi": [[x, y], ...]}, ...]}

``roi`` (only in the entries of cameras that have one) is the camera's region of interest
(:mod:`loadcheck.workspace.cameras`), so that a stateless gateway passes it to Triton without a
database; a gateway from before regions ignores it (and judges the whole photo).

Never a clear token. A gateway started with ``--tokens-from repository`` (or a folder or
``s3://`` location) looks tokens up through :class:`PublishedTokens`: the document is re-read
when the copy in memory is older than ``max_age_s`` (by the request that finds it stale; requests
arriving during that read use the copy in memory); a failed or invalid read keeps the last good
copy and logs, and is retried after ``max_age_s`` again. A missing document means no
tokens (every URL answers 404) until one is published.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from loadcheck.gateway.tokens import (
    TokenBinding,
    TokenRecord,
    check_camera,
    digests_match,
    is_sha256_hex,
    plausible_token,
    token_sha256,
)
from loadcheck.serving.storage import ModelRepository, open_repository
from loadcheck.workspace.db import now_iso

LOGGER = logging.getLogger(__name__)
TOKENS_FILE = "loadcheck_gateway_tokens.json"
FORMAT = "loadcheck-gateway-tokens"
FORMAT_VERSION = 1
#: Seconds a gateway keeps its copy of the document before reading it again.
DEFAULT_MAX_AGE_S = 3.0


class TokenSourceError(ValueError):
    """The published document cannot be read or is not valid; the message says what is wrong."""


@dataclass(frozen=True)
class PublishedToken:
    """One entry of the published document."""

    binding: TokenBinding
    sha256: str
    rotated_at: str


def document_bytes(records: Iterable[TokenRecord], published_at: str | None = None) -> bytes:
    """The published document for ``records``."""
    entries: list[dict[str, Any]] = []
    for r in records:
        entry: dict[str, Any] = {
            "integrator": r.integrator,
            "camera": r.camera,
            "sha256": r.token_sha256,
            "rotated_at": r.rotated_at,
        }
        if r.roi is not None:
            entry["roi"] = [list(p) for p in r.roi]
        entries.append(entry)
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "hash": "sha256",
        "published_at": published_at or now_iso(),
        "tokens": entries,
    }
    return json.dumps(document, indent=2).encode("utf-8")


def publish_tokens(records: Iterable[TokenRecord], repository: ModelRepository | str) -> int:
    """Write the document for ``records`` into ``repository`` as a whole; returns how many
    token hashes it holds.

    Raises:
        StorageError: the repository cannot be used (its message names it).
    """
    records = list(records)
    repo = open_repository(repository)
    repo.write_bytes(TOKENS_FILE, document_bytes(records))
    LOGGER.info("published %d gateway token hashes to %s", len(records), repo.url)
    return len(records)


def parse_document(data: bytes) -> list[PublishedToken]:
    """The entries of a published document.

    Raises:
        TokenSourceError: not JSON, another format or version, or a malformed entry (named).
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenSourceError(f"{TOKENS_FILE}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TokenSourceError(f"{TOKENS_FILE}: expected an object with format {FORMAT!r}")
    if document.get("version") != FORMAT_VERSION or document.get("hash") != "sha256":
        raise TokenSourceError(
            f"{TOKENS_FILE}: version {document.get('version')!r}, hash "
            f"{document.get('hash')!r}; this gateway reads version {FORMAT_VERSION}, sha256"
        )
    entries = document.get("tokens")
    if not isinstance(entries, list):
        raise TokenSourceError(f"{TOKENS_FILE}: expected a list under 'tokens'")
    return [_entry(i, e) for i, e in enumerate(entries)]


def _entry(index: int, entry: Any) -> PublishedToken:
    where = f"{TOKENS_FILE}: tokens[{index}]"
    if not isinstance(entry, dict):
        raise TokenSourceError(f"{where}: expected an object")
    integrator, camera, digest = entry.get("integrator"), entry.get("camera"), entry.get("sha256")
    if not isinstance(integrator, str) or not integrator:
        raise TokenSourceError(f"{where}: expected a non-empty 'integrator' string")
    if not isinstance(digest, str) or not is_sha256_hex(digest):
        raise TokenSourceError(f"{where}: expected 'sha256' as 64 lowercase hex digits")
    if camera is not None and not isinstance(camera, str):
        raise TokenSourceError(f"{where}: expected 'camera' as a string or null")
    try:
        check_camera(camera)
    except ValueError as exc:
        raise TokenSourceError(f"{where}: {exc}") from exc
    roi = None
    if entry.get("roi") is not None:
        from loadcheck.features.roi import RoiError, check_roi

        try:
            roi = check_roi(entry["roi"])
        except RoiError as exc:
            raise TokenSourceError(f"{where}: 'roi': {exc}") from exc
    binding = TokenBinding(integrator, camera, roi)
    return PublishedToken(binding, digest, str(entry.get("rotated_at")))


class PublishedTokens:
    """A :class:`~loadcheck.gateway.app.TokenLookup` over the document published in
    ``repository``, re-read when older than ``max_age_s`` (thread-safe).

    ``clock`` (tests) returns monotonic seconds.
    """

    def __init__(
        self,
        repository: ModelRepository | str,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_s < 0:
            raise ValueError(f"max_age_s: expected >= 0, got {max_age_s}")
        self.repository = open_repository(repository)
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._table: dict[str, PublishedToken] = {}
        self._read_at: float | None = None
        self._failing = False
        self._missing = False
        self.refresh()

    @property
    def url(self) -> str:
        return f"{self.repository.url.rstrip('/')}/{TOKENS_FILE}"

    def __len__(self) -> int:
        return len(self._table)

    def refresh(self) -> bool:
        """Read the document now; True when it was read (a missing one counts: no tokens),
        False when the read failed and the last good copy stays."""
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        self._read_at = self._clock()
        try:
            data = self.repository.read_bytes(TOKENS_FILE)
            entries = [] if data is None else parse_document(data)
        except Exception as exc:  # storage errors of any client: keep serving the last copy
            if not self._failing:
                LOGGER.error(
                    "cannot read the gateway tokens at %s (%s); keeping the last %d read",
                    self.url,
                    exc,
                    len(self._table),
                )
            self._failing = True
            return False
        if self._failing:
            LOGGER.warning("gateway tokens at %s readable again", self.url)
        if data is None and not self._missing:
            LOGGER.warning("no gateway tokens published at %s: every token answers 404", self.url)
        self._failing, self._missing = False, data is None
        self._table = {e.sha256: e for e in entries}
        return True

    def lookup(self, token: str) -> TokenBinding | None:
        """The source of ``token`` in the document read at most ``max_age_s`` ago, or None."""
        if not plausible_token(token):
            return None
        stale = self._read_at is None or self._clock() - self._read_at >= self.max_age_s
        # one request re-reads the document; the others meanwhile use the copy they have
        if stale and self._lock.acquire(blocking=False):
            try:
                self._refresh_locked()
            finally:
                self._lock.release()
        table = self._table
        digest = token_sha256(token)
        entry = table.get(digest)
        if entry is None or not digests_match(entry.sha256, digest):
            return None
        return entry.binding
