"""The workspace: a folder holding ``loadcheck.db`` (SQLite), the image store and locks.

Layout::

    <home>/loadcheck.db          metadata (integrators, samples, images, feature cache,
                                 fitted versions, served version, audit log)
    <home>/images/ab/<sha256>.<ext>   content-addressed fitting images
    <home>/locks/<name>.lock     inter-process locks (flock)

Writes run in ``BEGIN IMMEDIATE`` transactions with a 30 s busy timeout and WAL journaling, so
two processes writing at once are serialised by SQLite and never corrupt the database.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sqlite3
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadcheck.workspace.paths import default_home
from loadcheck.workspace.schema import COLUMNS_ADDED, SCHEMA

DB_FILE = "loadcheck.db"
SCHEMA_VERSION = 4  # 2: sample_corrections, versions.n_corrections; 3: integrators.review_json;
# 4: cameras
BUSY_TIMEOUT_S = 30.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_ACTOR: ContextVar[str | None] = ContextVar("loadcheck_actor", default=None)


@contextlib.contextmanager
def actor_scope(actor: str) -> Iterator[None]:
    """Record ``actor`` in every audit row written inside the block, in this thread / task only
    (a context variable: the console's sessions are threads of one process)."""
    if not actor.strip():
        raise ValueError("actor: expected a non-empty name for the audit log")
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current_actor() -> str:
    """Who is recorded in the audit log: the innermost :func:`actor_scope`, else
    ``$LOADCHECK_USER``, else the OS user."""
    scoped = _ACTOR.get()
    if scoped:
        return scoped
    env = os.environ.get("LOADCHECK_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Workspace:
    """Open (creating if needed) the workspace folder at ``home``."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.images_dir = self.home / "images"
        self.locks_dir = self.home / "locks"
        self.db_path = self.home / DB_FILE
        self._init_schema()

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    def _init_schema(self) -> None:
        with contextlib.closing(self.connect()) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                for table, column, alter in COLUMNS_ADDED:
                    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                    if column not in have:
                        conn.execute(alter)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def lock_path(self, name: str) -> Path:
        return self.locks_dir / f"{name}.lock"

    @staticmethod
    def audit(conn: sqlite3.Connection, action: str, integrator: str | None, **detail: Any) -> None:
        """Append one audit-log row inside the caller's transaction."""
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, integrator, detail_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (now_iso(), current_actor(), action, integrator, json.dumps(detail, sort_keys=True)),
        )

    def audit_entries(self, integrator: str | None = None) -> list[dict[str, Any]]:
        with self.reader() as conn:
            rows = conn.execute(
                "SELECT * FROM audit_log WHERE (? IS NULL OR integrator = ?) ORDER BY id",
                (integrator, integrator),
            ).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail_json"])} for r in rows]
