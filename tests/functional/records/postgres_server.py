"""A throw-away PostgreSQL server for tests: initdb in a temp folder, started on 127.0.0.1 on a
free port with its unix socket in the same folder, stopped (and the folder removed) at the end.

Uses Debian's binaries (``apt-get install postgresql``: /usr/lib/postgresql/<major>/bin).
PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` user
(created by the Debian package), else ``nobody``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "loadcheck"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb, pg_ctl and postgres."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(found):
        if all((bin_dir / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``url(database)`` gives a SQLAlchemy URL."""

    host: str
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host={self.host} port={self.port} user={SUPERUSER} dbname=postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """Start a fresh cluster; stop it and remove its folder on exit."""
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="loadcheck-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if user is not None:
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user is not None else {}
    port = _free_port()

    def pg(*args: str, timeout: float = 60) -> None:
        subprocess.run(
            args,
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=root,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            **as_user,  # type: ignore[arg-type]
        )

    started = False
    try:
        pg(str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=60"
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        started = True
        yield PostgresServer("127.0.0.1", port)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace") if exc.stderr else ""
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"{exc.cmd[0]} failed: {detail}\n{server_log}") from exc
    finally:
        if started:
            pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
