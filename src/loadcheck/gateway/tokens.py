"""Gateway tokens: one random, unguessable URL token per integrator, kept in the workspace DB.

The legacy system gave each plant a random URL; the gateway keeps that contract with
``/quality_detector/handle_image_post/<token>/``. Tokens live in a small ``gateway_tokens`` table
of the workspace's SQLite database (created here, through the workspace's connection helper), so
a rotation is one atomic ``UPDATE`` that every gateway process sees on its next request. Every
issue, rotation and revocation is written to the workspace audit log (without the token).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from loadcheck.workspace import Workspace
from loadcheck.workspace.db import now_iso

#: Random bytes per token; ``secrets.token_urlsafe`` turns 32 bytes into 43 URL-safe characters.
TOKEN_BYTES = 32
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_TOKEN_LENGTH = 128

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_tokens (
    integrator  TEXT PRIMARY KEY,
    token       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    rotated_at  TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class GatewayToken:
    """The URL token of one integrator; times are ISO-8601 UTC."""

    integrator: str
    token: str
    created_at: str
    rotated_at: str

    @property
    def path(self) -> str:
        """The legacy endpoint path for this token."""
        return legacy_path(self.token)


def legacy_path(token: str) -> str:
    return f"/quality_detector/handle_image_post/{token}/"


def new_token() -> str:
    """A fresh random token (URL-safe, 43 characters, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def plausible_token(token: str) -> bool:
    """Cheap shape check before a database lookup (URL-safe characters, bounded length)."""
    return 0 < len(token) <= _MAX_TOKEN_LENGTH and set(token) <= _TOKEN_ALPHABET


def _row(row: sqlite3.Row) -> GatewayToken:
    return GatewayToken(row["integrator"], row["token"], row["created_at"], row["rotated_at"])


class TokenStore:
    """Tokens of the gateway in ``workspace``'s database (thread-safe: a connection per call)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        with workspace.transaction() as conn:
            conn.execute(SCHEMA)

    def lookup(self, token: str) -> str | None:
        """The integrator that ``token`` belongs to, or None."""
        if not plausible_token(token):
            return None
        with self.workspace.reader() as conn:
            row = conn.execute(
                "SELECT integrator FROM gateway_tokens WHERE token = ?", (token,)
            ).fetchone()
        return None if row is None else str(row["integrator"])

    def get(self, integrator: str) -> GatewayToken | None:
        with self.workspace.reader() as conn:
            row = conn.execute(
                "SELECT * FROM gateway_tokens WHERE integrator = ?", (integrator,)
            ).fetchone()
        return None if row is None else _row(row)

    def all(self) -> list[GatewayToken]:
        """Every token, by integrator name."""
        with self.workspace.reader() as conn:
            rows = conn.execute("SELECT * FROM gateway_tokens ORDER BY integrator").fetchall()
        return [_row(r) for r in rows]

    def issue(self, integrator: str) -> GatewayToken:
        """The integrator's token, created if it has none yet (idempotent)."""
        with self.workspace.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM gateway_tokens WHERE integrator = ?", (integrator,)
            ).fetchone()
            if row is not None:
                return _row(row)
            at = now_iso()
            token = new_token()
            conn.execute(
                "INSERT INTO gateway_tokens (integrator, token, created_at, rotated_at) "
                "VALUES (?, ?, ?, ?)",
                (integrator, token, at, at),
            )
            Workspace.audit(conn, "gateway_token_issued", integrator)
        return GatewayToken(integrator, token, at, at)

    def rotate(self, integrator: str) -> GatewayToken:
        """Replace the integrator's token (creating one if it has none); the old token stops
        working at once."""
        at = now_iso()
        token = new_token()
        with self.workspace.transaction() as conn:
            row = conn.execute(
                "SELECT created_at FROM gateway_tokens WHERE integrator = ?", (integrator,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO gateway_tokens (integrator, token, created_at, rotated_at) "
                    "VALUES (?, ?, ?, ?)",
                    (integrator, token, at, at),
                )
                created = at
            else:
                conn.execute(
                    "UPDATE gateway_tokens SET token = ?, rotated_at = ? WHERE integrator = ?",
                    (token, at, integrator),
                )
                created = str(row["created_at"])
            Workspace.audit(conn, "gateway_token_rotated", integrator)
        return GatewayToken(integrator, token, created, at)

    def revoke(self, integrator: str) -> bool:
        """Delete the integrator's token; True when there was one."""
        with self.workspace.transaction() as conn:
            cur = conn.execute("DELETE FROM gateway_tokens WHERE integrator = ?", (integrator,))
            if cur.rowcount:
                Workspace.audit(conn, "gateway_token_revoked", integrator)
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

    def issue_for_deployed(self) -> list[GatewayToken]:
        """Give every deployed integrator without a token one; returns the new tokens."""
        have = {t.integrator for t in self.all()}
        return [self.issue(name) for name in self.deployed_integrators() if name not in have]
