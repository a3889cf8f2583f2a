"""Console admin accounts: argon2id password hashes in the workspace database, rate-limited logins.

Tables (created here, in the workspace's SQLite database)::

    console_admins          name, password_hash (argon2id, salted, PHC string), created_at
    console_login_failures  name, client (address), at_s (UNIX seconds) — one row per failure

Failed logins delay the next attempt of the same name from the same client address, and of the
same client address for any name, with growing delays (:mod:`loadcheck.console.login_limits`);
a delayed attempt is refused without checking the password. Nothing is counted per name alone,
so wrong passwords from elsewhere never delay an admin at their own address. Password hashes
are computed a few at a time (:class:`~loadcheck.console.login_limits.PasswordChecks`). Every
login, failed login, delayed login, logout and account change is written to the workspace audit
log (never the password).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from loadcheck.console.login_limits import (
    PER_CLIENT,
    PER_NAME_AND_CLIENT,
    Backoff,
    BusyError,
    PasswordChecks,
    shared_checks,
)
from loadcheck.workspace.db import Workspace, actor_scope, now_iso

LOG = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ACTOR_PREFIX = "console:"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS console_admins ("
    " name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS console_login_failures ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, at_s REAL NOT NULL,"
    " client TEXT NOT NULL DEFAULT '')",
)
#: After :data:`SCHEMA` (the ``client`` column is added to tables made before it existed).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS console_login_failures_pair"
    " ON console_login_failures (name, client, at_s)",
    "CREATE INDEX IF NOT EXISTS console_login_failures_client"
    " ON console_login_failures (client, at_s)",
)
#: The client address recorded when the console cannot tell (a local connection, tests).
LOCAL_CLIENT = "local"


class AuthError(ValueError):
    """An admin account cannot be created or changed (the message says why)."""


def _count_login(outcome: str) -> None:
    """Count a login in the console's metrics (:mod:`loadcheck.console.metrics`), if available."""
    try:
        from loadcheck.console.metrics import count_login
    except ImportError:  # prometheus_client missing: no metrics, logins work
        return
    count_login(outcome)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login attempt.

    Attributes:
        ok: the name and password are right and the attempt was not delayed.
        message: what to show the user (never says whether the name exists).
        retry_after_s: seconds until this name from this client may try again (0: now).
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


_DUMMY_HASHES: dict[tuple[object, ...], str] = {}
_DUMMY_LOCK = threading.Lock()


def _hasher_key(hasher: PasswordHasher) -> tuple[object, ...]:
    return (
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
        hasher.salt_len,
        hasher.type,
    )


class AdminStore:
    """Admin accounts of the console in ``workspace``'s database.

    Args:
        workspace: the workspace (its database holds the tables above).
        hasher: argon2 hasher (default: argon2-cffi's RFC 9106 low-memory profile,
            argon2id, t=3, m=64 MiB, p=4, 16-byte salt).
        per_name_and_client / per_client: the growing delays after failed logins.
        checks: the cap on password checks at once (default: the process's, shared by every
            store; ``$LOADCHECK_CONSOLE_PASSWORD_CHECKS``).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        hasher: PasswordHasher | None = None,
        per_name_and_client: Backoff = PER_NAME_AND_CLIENT,
        per_client: Backoff = PER_CLIENT,
        checks: PasswordChecks | None = None,
    ) -> None:
        self.ws = workspace
        self.hasher = hasher or PasswordHasher()
        self.per_name_and_client = per_name_and_client
        self.per_client = per_client
        self.checks = checks or shared_checks()
        self.window_s = max(per_name_and_client.window_s, per_client.window_s)
        with workspace.transaction() as conn:
            for statement in SCHEMA:
                conn.execute(statement)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(console_login_failures)")}
            if "client" not in columns:
                conn.execute(
                    "ALTER TABLE console_login_failures ADD COLUMN client TEXT NOT NULL DEFAULT ''"
                )
            for statement in INDEXES:
                conn.execute(statement)

    def _dummy_hash(self) -> str:
        """A hash of this hasher's parameters that no password matches (made once a process)."""
        key = _hasher_key(self.hasher)
        with _DUMMY_LOCK:
            digest = _DUMMY_HASHES.get(key)
        if digest is None:
            with self.checks.slot():
                digest = self.hasher.hash("loadcheck-no-such-admin")
            with _DUMMY_LOCK:
                digest = _DUMMY_HASHES.setdefault(key, digest)
        return digest

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
        with self.checks.slot():
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
    def _failures(
        self, conn: sqlite3.Connection, name: str, client: str, now: float
    ) -> tuple[list[float], list[float]]:
        """UNIX times of the recent failures of (name, client) and of client (any name)."""
        since = now - self.window_s
        pair = conn.execute(
            "SELECT at_s FROM console_login_failures WHERE name = ? AND client = ? AND at_s > ?",
            (name, client, since),
        ).fetchall()
        any_name = conn.execute(
            "SELECT at_s FROM console_login_failures WHERE client = ? AND at_s > ?",
            (client, since),
        ).fetchall()
        return [float(r["at_s"]) for r in pair], [float(r["at_s"]) for r in any_name]

    def wait_s(self, name: str, client: str = LOCAL_CLIENT, *, now: float | None = None) -> float:
        """Seconds until ``name`` may try again from ``client`` (0: now)."""
        now = time.time() if now is None else now
        with self.ws.reader() as conn:
            pair, any_name = self._failures(conn, name.strip(), client, now)
        return max(
            self.per_name_and_client.wait_s(pair, now), self.per_client.wait_s(any_name, now)
        )

    def _stored_hash(self, name: str) -> str | None:
        with self.ws.reader() as conn:
            row = conn.execute(
                "SELECT password_hash FROM console_admins WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else str(row["password_hash"])

    def _check(self, digest: str | None, password: str) -> bool:
        """Verify ``password``, a few checks at a time (:class:`BusyError` when none is free).

        Unknown names still pay one verification, so timing does not tell them apart."""
        against = digest or self._dummy_hash()
        with self.checks.slot():
            try:
                return bool(self.hasher.verify(against, password)) and bool(digest)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def _record_failure(self, name: str, client: str, now: float, action: str) -> None:
        with acting_as(name), self.ws.transaction() as conn:
            conn.execute(
                "INSERT INTO console_login_failures (name, client, at_s) VALUES (?, ?, ?)",
                (name, client, now),
            )
            conn.execute(
                "DELETE FROM console_login_failures WHERE at_s <= ?", (now - self.window_s,)
            )
            Workspace.audit(conn, action, None, admin=name, client=client)

    def login(
        self, name: str, password: str, *, client: str = LOCAL_CLIENT, now: float | None = None
    ) -> LoginResult:
        """Check one login attempt from ``client`` (its address), apply the delays and write it
        to the audit log."""
        now = time.time() if now is None else now
        name = name.strip()
        wait = self.wait_s(name, client, now=now)
        if wait > 0:
            with acting_as(name), self.ws.transaction() as conn:
                Workspace.audit(conn, "login-delayed", None, admin=name, client=client)
            LOG.warning("console login of %r from %s delayed %.0f s", name, client, wait)
            _count_login("throttled")
            return LoginResult(
                False,
                f"too many failed logins from this address; try again in {max(1, round(wait))} s",
                wait,
            )
        digest = self._stored_hash(name)
        try:
            ok = self._check(digest, password)
        except BusyError:
            LOG.warning("console login of %r from %s: every password check slot busy", name, client)
            _count_login("busy")
            return LoginResult(False, "the console is busy checking other logins; try again", 5.0)
        if not ok:
            self._record_failure(name, client, now, "login-failed")
            LOG.warning("console login failed for %r from %s", name, client)
            _count_login("refused")
            after = self.wait_s(name, client, now=now)
            hint = f"; the next attempt from this address waits {round(after)} s" if after else ""
            return LoginResult(False, f"wrong name or password{hint}", after)
        with acting_as(name), self.ws.transaction() as conn:
            conn.execute(
                "DELETE FROM console_login_failures WHERE name = ? AND client = ?", (name, client)
            )
            Workspace.audit(conn, "login", None, admin=name, client=client)
        assert digest is not None
        if self.hasher.check_needs_rehash(digest):
            with self.checks.slot():
                upgraded = self.hasher.hash(password)
            with self.ws.transaction() as conn:
                conn.execute(
                    "UPDATE console_admins SET password_hash = ? WHERE name = ?", (upgraded, name)
                )
        _count_login("ok")
        return LoginResult(True, f"logged in as {name}")

    def verify_password(self, name: str, password: str, *, client: str = LOCAL_CLIENT) -> bool:
        """Re-check a logged-in admin's password (confirmation of dangerous actions).

        Delayed and counted like a login; audited as ``password-confirm[-failed]``.
        """
        now = time.time()
        if self.wait_s(name, client, now=now) > 0:
            return False
        try:
            ok = self._check(self._stored_hash(name), password)
        except BusyError:
            return False
        if not ok:
            self._record_failure(name, client, now, "password-confirm-failed")
            return False
        with acting_as(name), self.ws.transaction() as conn:
            Workspace.audit(conn, "password-confirm", None, admin=name, client=client)
        return True

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
