"""Console admin accounts: argon2id password hashes in the workspace database, rate-limited logins.

Tables (created here, in the workspace's SQLite database)::

    console_admins          name, password_hash (argon2id, salted, PHC string), created_at
    console_login_failures  name, at_s (UNIX seconds) — one row per failed attempt

A name with :data:`MAX_FAILURES` failed attempts within :data:`WINDOW_S` seconds is locked until
the oldest of them leaves the window; a locked login is refused without checking the password.
Every login, failed login, refused (locked) login, logout and account change is written to the
workspace audit log (never the password).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from loadcheck.workspace.db import Workspace, actor_scope, now_iso

LOG = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW_S = 300.0
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ACTOR_PREFIX = "console:"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS console_admins ("
    " name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS console_login_failures ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, at_s REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS console_login_failures_name ON console_login_failures (name, at_s)",
)


class AuthError(ValueError):
    """An admin account cannot be created or changed (the message says why)."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login attempt.

    Attributes:
        ok: the name and password are right and the name is not locked.
        message: what to show the user (never says whether the name exists).
        retry_after_s: seconds until a locked name may try again (0 when not locked).
    """

    ok: bool
    message: str
    retry_after_s: float = 0.0


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            f"password too short: expected at least {MIN_PASSWORD_LENGTH} characters, got "
            f"{len(password)}"
        )
    if password.strip() != password:
        raise AuthError("password must not start or end with white space")


class AdminStore:
    """Admin accounts of the console in ``workspace``'s database.

    Args:
        workspace: the workspace (its database holds the tables above).
        hasher: argon2 hasher (default: argon2-cffi's RFC 9106 low-memory profile,
            argon2id, t=3, m=64 MiB, p=4, 16-byte salt).
        max_failures / window_s: the rate limit (failed attempts per name per window).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        hasher: PasswordHasher | None = None,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
    ) -> None:
        self.ws = workspace
        self.hasher = hasher or PasswordHasher()
        self.max_failures = max_failures
        self.window_s = window_s
        self._dummy_hash = self.hasher.hash("loadcheck-no-such-admin")
        with workspace.transaction() as conn:
            for statement in SCHEMA:
                conn.execute(statement)

    # ---------------------------------------------------------------- accounts
    def names(self) -> list[str]:
        with self.ws.reader() as conn:
            rows = conn.execute("SELECT name FROM console_admins ORDER BY name").fetchall()
        return [str(r["name"]) for r in rows]

    def create(self, name: str, password: str, *, replace: bool = False) -> None:
        """Create admin ``name`` (or set a new password with ``replace``).

        Raises:
            AuthError: bad name, password too short, or the name exists and not ``replace``.
        """
        if not NAME_PATTERN.match(name):
            raise AuthError(
                f"invalid admin name {name!r}: expected 1-64 letters, digits, '_', '.', '@' or "
                "'-', starting with a letter or digit"
            )
        check_password_policy(password)
        digest = self.hasher.hash(password)
        stamp = now_iso()
        with self.ws.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM console_admins WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise AuthError(f"admin {name!r} already exists (pass --replace to reset it)")
            if exists:
                conn.execute(
                    "UPDATE console_admins SET password_hash = ?, updated_at = ? WHERE name = ?",
                    (digest, stamp, name),
                )
            else:
                conn.execute(
                    "INSERT INTO console_admins (name, password_hash, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?)",
                    (name, digest, stamp, stamp),
                )
            conn.execute("DELETE FROM console_login_failures WHERE name = ?", (name,))
            Workspace.audit(
                conn, "admin-password-reset" if exists else "admin-created", None, admin=name
            )

    # ---------------------------------------------------------------- logins
    def _recent_failures(self, name: str, now: float) -> list[float]:
        with self.ws.reader() as conn:
            rows = conn.execute(
                "SELECT at_s FROM console_login_failures WHERE name = ? AND at_s > ? ORDER BY at_s",
                (name, now - self.window_s),
            ).fetchall()
        return [float(r["at_s"]) for r in rows]

    def _stored_hash(self, name: str) -> str | None:
        with self.ws.reader() as conn:
            row = conn.execute(
                "SELECT password_hash FROM console_admins WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else str(row["password_hash"])

    def _check(self, digest: str | None, password: str) -> bool:
        try:
            # Unknown names still pay one hash verification, so timing does not tell them apart.
            return bool(self.hasher.verify(digest or self._dummy_hash, password)) and bool(digest)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def login(self, name: str, password: str, *, now: float | None = None) -> LoginResult:
        """Check one login attempt, apply the rate limit and write it to the audit log."""
        now = time.time() if now is None else now
        name = name.strip()
        failures = self._recent_failures(name, now)
        if len(failures) >= self.max_failures:
            wait = failures[-self.max_failures] + self.window_s - now
            with acting_as(name), self.ws.transaction() as conn:
                Workspace.audit(conn, "login-locked", None, admin=name)
            LOG.warning("console login refused for %r: too many failed attempts", name)
            return LoginResult(
                False,
                f"too many failed logins for this name; try again in {max(1, round(wait))} s",
                max(wait, 0.0),
            )
        digest = self._stored_hash(name)
        ok = self._check(digest, password)
        with acting_as(name), self.ws.transaction() as conn:
            if ok:
                conn.execute("DELETE FROM console_login_failures WHERE name = ?", (name,))
                Workspace.audit(conn, "login", None, admin=name)
            else:
                conn.execute(
                    "INSERT INTO console_login_failures (name, at_s) VALUES (?, ?)", (name, now)
                )
                conn.execute(
                    "DELETE FROM console_login_failures WHERE at_s <= ?", (now - self.window_s,)
                )
                Workspace.audit(conn, "login-failed", None, admin=name)
        if ok:
            assert digest is not None
            if self.hasher.check_needs_rehash(digest):
                with self.ws.transaction() as conn:
                    conn.execute(
                        "UPDATE console_admins SET password_hash = ? WHERE name = ?",
                        (self.hasher.hash(password), name),
                    )
            return LoginResult(True, f"logged in as {name}")
        LOG.warning("console login failed for %r", name)
        left = self.max_failures - len(failures) - 1
        hint = f" ({left} attempts left)" if 0 < left < self.max_failures - 1 else ""
        return LoginResult(False, f"wrong name or password{hint}")

    def verify_password(self, name: str, password: str) -> bool:
        """Re-check a logged-in admin's password (confirmation of dangerous actions).

        Counts towards the rate limit like a login; audited as ``password-confirm[-failed]``.
        """
        now = time.time()
        if len(self._recent_failures(name, now)) >= self.max_failures:
            return False
        ok = self._check(self._stored_hash(name), password)
        with acting_as(name), self.ws.transaction() as conn:
            if not ok:
                conn.execute(
                    "INSERT INTO console_login_failures (name, at_s) VALUES (?, ?)", (name, now)
                )
            Workspace.audit(
                conn, "password-confirm" if ok else "password-confirm-failed", None, admin=name
            )
        return ok

    def logout(self, name: str) -> None:
        with acting_as(name), self.ws.transaction() as conn:
            Workspace.audit(conn, "logout", None, admin=name)


@contextlib.contextmanager
def acting_as(admin: str) -> Iterator[None]:
    """Record ``console:<admin>`` as the actor of every audit row written inside the block.

    The actor is a context variable (:func:`loadcheck.workspace.db.actor_scope`), so the
    console's sessions, threads of one process, each record their own admin without waiting for
    one another. Two admins writing the same integrator are serialised by the workspace's file
    lock, as two processes are.
    """
    with actor_scope(f"{ACTOR_PREFIX}{admin}"):
        yield
