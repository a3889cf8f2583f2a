"""Where the records live: ``$LOADCHECK_DATABASE_URL`` (PostgreSQL) or SQLite in the workspace.

SQLite connections run in WAL mode with a 30 s busy timeout and take the write lock at the start
of every transaction (``BEGIN IMMEDIATE``), so several processes writing at once wait for each
other instead of failing with "database is locked" on a lock upgrade. PostgreSQL URLs use the
psycopg (v3) driver whatever their scheme says (``postgresql://``, ``postgres://``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loadcheck.environment import DATABASE_URL
from loadcheck.records.model import RecordError
from loadcheck.workspace.paths import default_home

#: The SQLite file of the records inside the workspace folder.
RECORDS_DB_FILE = "records.db"
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Seconds a PostgreSQL connection attempt may take before the write counts as failed.
CONNECT_TIMEOUT_S = 5


def database_url(url: str | None = None, home: Path | str | None = None) -> str:
    """``url``, else ``$LOADCHECK_DATABASE_URL``, else SQLite at ``<home>/records.db``
    (``home`` default: ``$LOADCHECK_HOME``)."""
    chosen = url or DATABASE_URL.get()
    if chosen:
        return chosen
    folder = Path(home) if home is not None else default_home()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / RECORDS_DB_FILE).resolve()}"


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///...`` or ``postgresql://...``).

    Raises:
        RecordError: another database kind, or a URL SQLAlchemy cannot parse.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise RecordError(
            f"database URL {redact(url)!r}: expected sqlite:///PATH or "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise RecordError(
                "database URL: an SQLite database must be a file (sqlite:///PATH); an in-memory "
                "one would be lost, and other processes could not read it"
            )
        engine = sa.create_engine(
            parsed.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        )
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    raise RecordError(
        f"database URL {redact(url)!r}: the records store runs on sqlite or postgresql, "
        f"not {backend}"
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
