"""Gateway tokens: one random, unguessable URL token per *source*, stored as a SHA-256 hash.

The legacy system gave each plant a random URL; the gateway keeps that contract with
``/quality_detector/handle_image_post/<token>/``. A token is bound to a source
(:class:`TokenBinding`): an integrator, and optionally a camera name (cameras of one integrator
each get their own URL; ``camera=None`` is the integrator's own URL).

Only the SHA-256 of a token is kept (table ``gateway_token_hashes`` of the workspace's SQLite
database); the token itself is returned once, by :meth:`TokenStore.issue` /
:meth:`TokenStore.rotate` (:class:`IssuedToken`), and never written anywhere. Plain SHA-256, not
a peppered HMAC: every token is 256 random bits (:func:`new_token`), so a leaked hash cannot be
reversed by guessing, and no pepper has to be shared by the console and every gateway.
A lookup hashes the presented token, finds its row by the hash and compares the two digests with
:func:`hmac.compare_digest`.

Workspaces from before hashing kept clear tokens in ``gateway_tokens``: opening the store hashes
them into the new table (the old URLs keep working) and drops the old table with SQLite's
``secure_delete`` on, then truncates the write-ahead log, so the clear tokens leave the files.

Every issue, rotation and revocation is written to the workspace audit log (without the token).
For gateways without the workspace, :mod:`loadcheck.gateway.token_source` publishes the hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
from dataclasses import dataclass, field

from loadcheck.workspace import Workspace
from loadcheck.workspace.db import now_iso

LOGGER = logging.getLogger(__name__)

#: Random bytes per token; ``secrets.token_urlsafe`` turns 32 bytes into 43 URL-safe characters.
TOKEN_BYTES = 32
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_TOKEN_LENGTH = 128
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Camera names: as integrator names (lowercase letters, digits, ``_``, ``-``).
CAMERA_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: ``camera`` column value of an integrator's own token (SQLite keys cannot hold NULL usefully).
_NO_CAMERA = ""

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_token_hashes (
    integrator    TEXT NOT NULL,
    camera        TEXT NOT NULL DEFAULT '',
    token_sha256  TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    rotated_at    TEXT NOT NULL,
    PRIMARY KEY (integrator, camera)
)
"""
#: The clear-text table of workspaces from before hashing (migrated, then dropped).
LEGACY_TABLE = "gateway_tokens"


class TokenError(ValueError):
    """A token operation cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class TokenBinding:
    """The source a token belongs to: an integrator and, optionally, one of its cameras, with
    the camera's region of interest (polygon points in image pixels, ``None``: the whole photo;
    :mod:`loadcheck.workspace.cameras`). The region is not part of the source's identity (it
    does not take part in ``==``)."""

    integrator: str
    camera: str | None = None
    roi: tuple[tuple[float, float], ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_camera(self.camera)

    def __str__(self) -> str:
        return self.integrator if self.camera is None else f"{self.integrator}/{self.camera}"


@dataclass(frozen=True)
class TokenRecord:
    """What is stored about one token (never the token); times are ISO-8601 UTC."""

    integrator: str
    camera: str | None
    token_sha256: str
    created_at: str
    rotated_at: str
    roi: tuple[tuple[float, float], ...] | None = None

    @property
    def binding(self) -> TokenBinding:
        return TokenBinding(self.integrator, self.camera, self.roi)


@dataclass(frozen=True)
class IssuedToken:
    """A token just created or rotated: the only time the token itself is available."""

    integrator: str
    camera: str | None
    token: str
    created_at: str
    rotated_at: str

    @property
    def path(self) -> str:
        """The legacy endpoint path for this token."""
        return legacy_path(self.token)

    @property
    def binding(self) -> TokenBinding:
        return TokenBinding(self.integrator, self.camera)


def legacy_path(token: str) -> str:
    return f"/quality_detector/handle_image_post/{token}/"


def new_token() -> str:
    """A fresh random token (URL-safe, 43 characters, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def plausible_token(token: str) -> bool:
    """Cheap shape check before hashing (URL-safe characters, bounded length)."""
    return 0 < len(token) <= _MAX_TOKEN_LENGTH and set(token) <= _TOKEN_ALPHABET


def token_sha256(token: str) -> str:
    """The stored form of ``token``: its SHA-256, 64 lowercase hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_sha256_hex(text: str) -> bool:
    return bool(_SHA256_HEX.match(text))


def digests_match(stored: str, presented: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(stored.encode("ascii"), presented.encode("ascii"))


def check_camera(camera: str | None) -> str | None:
    if camera is not None and not CAMERA_PATTERN.match(camera):
        raise TokenError(
            f"camera name {camera!r}: expected lowercase letters, digits, '_' or '-' "
            "(at most 63 characters, starting with a letter or digit)"
        )
    return camera


def _record(row: sqlite3.Row) -> TokenRecord:
    roi = None
    if "roi_json" in row.keys() and row["roi_json"] is not None:  # noqa: SIM118 (a Row)
        from loadcheck.features.roi import check_roi

        roi = check_roi(json.loads(row["roi_json"]))
    return TokenRecord(
        row["integrator"],
        row["camera"] or None,
        row["token_sha256"],
        row["created_at"],
        row["rotated_at"],
        roi,
    )


#: The token rows with the region of interest of their camera (``cameras``, workspace schema 4).
_WITH_ROI = (
    "SELECT t.*, c.roi_json FROM gateway_token_hashes t LEFT JOIN cameras c "
    "ON t.camera != '' AND c.name = t.camera AND c.integrator = t.integrator"
)


class TokenStore:
    """Token hashes of the gateway in ``workspace``'s database (thread-safe: a connection per
    call). Opening it migrates clear tokens of an older workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        with workspace.transaction() as conn:
            conn.execute(SCHEMA)
            migrated = _hash_legacy_tokens(conn)
        if migrated:
            with workspace.reader() as conn:  # the clear tokens' pages out of the WAL file too
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:
                LOGGER.warning("WAL checkpoint after hashing tokens was blocked by a reader")
            LOGGER.info("hashed %d clear-text gateway tokens of %s", migrated, workspace.home)

    def lookup(self, token: str) -> TokenBinding | None:
        """The source that ``token`` belongs to, or None."""
        if not plausible_token(token):
            return None
        digest = token_sha256(token)
        with self.workspace.reader() as conn:
            row = conn.execute(f"{_WITH_ROI} WHERE t.token_sha256 = ?", (digest,)).fetchone()
        if row is None or not digests_match(str(row["token_sha256"]), digest):
            return None
        return _record(row).binding

    def get(self, integrator: str, camera: str | None = None) -> TokenRecord | None:
        with self.workspace.reader() as conn:
            row = conn.execute(
                "SELECT * FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (integrator, check_camera(camera) or _NO_CAMERA),
            ).fetchone()
        return None if row is None else _record(row)

    def all(self) -> list[TokenRecord]:
        """Every token's record, by integrator and camera (the integrator's own first), with
        its camera's region of interest."""
        with self.workspace.reader() as conn:
            rows = conn.execute(f"{_WITH_ROI} ORDER BY t.integrator, t.camera").fetchall()
        return [_record(r) for r in rows]

    def issue(self, integrator: str, camera: str | None = None) -> IssuedToken:
        """A new token for a source that has none.

        Raises:
            TokenError: the source has a token already (only its hash is kept, so it cannot be
                shown again: :meth:`rotate` replaces it).
        """
        issued = self.ensure(integrator, camera)
        if issued is None:
            raise TokenError(
                f"{TokenBinding(integrator, camera)} has a token already; it is stored as a hash "
                "and cannot be shown again: rotate it for a new URL"
            )
        return issued

    def ensure(self, integrator: str, camera: str | None = None) -> IssuedToken | None:
        """Issue a token when the source has none; ``None`` when it has one."""
        key = check_camera(camera) or _NO_CAMERA
        with self.workspace.transaction() as conn:
            row = conn.execute(
                "SELECT 1 FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (integrator, key),
            ).fetchone()
            if row is not None:
                return None
            at = now_iso()
            token = new_token()
            conn.execute(
                "INSERT INTO gateway_token_hashes "
                "(integrator, camera, token_sha256, created_at, rotated_at) VALUES (?, ?, ?, ?, ?)",
                (integrator, key, token_sha256(token), at, at),
            )
            Workspace.audit(conn, "gateway_token_issued", integrator, camera=camera)
        return IssuedToken(integrator, camera, token, at, at)

    def rotate(self, integrator: str, camera: str | None = None) -> IssuedToken:
        """Replace the source's token (creating one if it has none); the old token stops working
        at once for gateways reading this workspace (after a publish and their cache interval
        for gateways reading the published hashes)."""
        key = check_camera(camera) or _NO_CAMERA
        at = now_iso()
        token = new_token()
        with self.workspace.transaction() as conn:
            row = conn.execute(
                "SELECT created_at FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (integrator, key),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO gateway_token_hashes "
                    "(integrator, camera, token_sha256, created_at, rotated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (integrator, key, token_sha256(token), at, at),
                )
                created = at
            else:
                conn.execute(
                    "UPDATE gateway_token_hashes SET token_sha256 = ?, rotated_at = ? "
                    "WHERE integrator = ? AND camera = ?",
                    (token_sha256(token), at, integrator, key),
                )
                created = str(row["created_at"])
            Workspace.audit(conn, "gateway_token_rotated", integrator, camera=camera)
        return IssuedToken(integrator, camera, token, created, at)

    def revoke(self, integrator: str, camera: str | None = None) -> bool:
        """Delete the source's token; True when there was one."""
        key = check_camera(camera) or _NO_CAMERA
        with self.workspace.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (integrator, key),
            )
            if cur.rowcount:
                Workspace.audit(conn, "gateway_token_revoked", integrator, camera=camera)
        return bool(cur.rowcount)

    def known_integrators(self) -> list[str]:
        """Integrators registered in the workspace."""
        with self.workspace.reader() as conn:
            rows = conn.execute("SELECT name FROM integrators ORDER BY name").fetchall()
        return [str(r["name"]) for r in rows]

    def deployed_integrators(self) -> list[str]:
        """Integrators with a served version in the workspace."""
        with self.workspace.reader() as conn:
            rows = conn.execute(
                "SELECT name FROM integrators WHERE served_version IS NOT NULL ORDER BY name"
            ).fetchall()
        return [str(r["name"]) for r in rows]

    def issue_for_deployed(self) -> list[IssuedToken]:
        """Give every deployed integrator without a token one; returns the new tokens (the only
        time they are shown)."""
        issued = [self.ensure(name) for name in self.deployed_integrators()]
        return [t for t in issued if t is not None]


def _hash_legacy_tokens(conn: sqlite3.Connection) -> int:
    """Move clear tokens of ``gateway_tokens`` into the hash table (inside the caller's
    transaction) and drop the old table, overwriting its pages; returns how many were moved."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LEGACY_TABLE,)
    ).fetchone()
    if exists is None:
        return 0
    rows = conn.execute(
        f"SELECT integrator, token, created_at, rotated_at FROM {LEGACY_TABLE}"
    ).fetchall()
    for row in rows:
        conn.execute(
            "INSERT OR IGNORE INTO gateway_token_hashes "
            "(integrator, camera, token_sha256, created_at, rotated_at) VALUES (?, ?, ?, ?, ?)",
            (
                row["integrator"],
                _NO_CAMERA,
                token_sha256(str(row["token"])),
                row["created_at"],
                row["rotated_at"],
            ),
        )
    conn.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed, not left readable
    conn.execute(f"DELETE FROM {LEGACY_TABLE}")
    conn.execute(f"DROP TABLE {LEGACY_TABLE}")
    Workspace.audit(conn, "gateway_tokens_hashed", None, count=len(rows))
    return len(rows)
