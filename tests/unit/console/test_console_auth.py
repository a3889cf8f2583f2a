"""Admin accounts of the console: argon2 hashes, verification, rate limit, audit log, CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.console.auth import AdminStore, AuthError, acting_as
from loadcheck.workspace import Workspace

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> AdminStore:
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return AdminStore(Workspace(tmp_path / "ws"), hasher=fast, max_failures=3, window_s=60.0)


def _hash_of(store: AdminStore, name: str) -> str:
    with sqlite3.connect(store.ws.db_path) as conn:
        return str(
            conn.execute(
                "SELECT password_hash FROM console_admins WHERE name = ?", (name,)
            ).fetchone()[0]
        )


def test_password_is_stored_as_salted_argon2id_hash(tmp_path: Path) -> None:
    store = AdminStore(Workspace(tmp_path))  # the default (slow) parameters
    store.create("alice", PASSWORD)
    store.create("bob", PASSWORD)
    alice, bob = _hash_of(store, "alice"), _hash_of(store, "bob")
    assert alice.startswith("$argon2id$")
    assert "m=65536" in alice
    assert PASSWORD not in alice
    assert alice != bob  # salted: the same password gives different hashes


def test_login_succeeds_with_the_right_password_only(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    assert store.login("alice", PASSWORD).ok
    assert not store.login("alice", PASSWORD + "x").ok
    assert not store.login("nobody", PASSWORD).ok


def test_wrong_password_and_unknown_name_get_the_same_message(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    assert store.login("alice", "wrong-password-1").message.startswith("wrong name or password")
    assert store.login("nobody", "wrong-password-1").message.startswith("wrong name or password")


def test_too_many_failures_lock_the_name_even_for_the_right_password(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    for i in range(3):
        assert not store.login("alice", f"wrong-{i}", now=1000.0 + i).ok
    locked = store.login("alice", PASSWORD, now=1003.0)
    assert not locked.ok
    assert "too many failed logins" in locked.message
    assert 0 < locked.retry_after_s <= 60.0


def test_lock_expires_after_the_window(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    for i in range(3):
        store.login("alice", f"wrong-{i}", now=1000.0)
    assert not store.login("alice", PASSWORD, now=1059.0).ok
    assert store.login("alice", PASSWORD, now=1061.0).ok


def test_lock_of_one_name_does_not_lock_another(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    store.create("bob", PASSWORD)
    for i in range(3):
        store.login("alice", f"wrong-{i}", now=1000.0)
    assert store.login("bob", PASSWORD, now=1001.0).ok


def test_logins_and_failures_are_in_the_audit_log_without_the_password(
    store: AdminStore,
) -> None:
    store.create("alice", PASSWORD)
    store.login("alice", "wrong-password-1", now=1000.0)
    store.login("alice", PASSWORD, now=1001.0)
    store.logout("alice")
    entries = store.ws.audit_entries()
    assert [e["action"] for e in entries] == ["admin-created", "login-failed", "login", "logout"]
    assert all(e["detail"]["admin"] == "alice" for e in entries)
    assert entries[1]["actor"] == "console:alice"
    assert PASSWORD not in str(entries) and "wrong-password-1" not in str(entries)


@pytest.mark.parametrize(
    ("name", "password", "expected"),
    [
        ("alice", "short", "too short"),
        ("bad name", PASSWORD, "invalid admin name"),
        ("", PASSWORD, "invalid admin name"),
        ("alice", f" {PASSWORD}", "white space"),
    ],
)
def test_bad_names_and_weak_passwords_are_refused(
    store: AdminStore, name: str, password: str, expected: str
) -> None:
    with pytest.raises(AuthError, match=expected):
        store.create(name, password)


def test_existing_admin_is_not_overwritten_without_replace(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    with pytest.raises(AuthError, match="already exists"):
        store.create("alice", "another password 2")
    store.create("alice", "another password 2", replace=True)
    assert store.login("alice", "another password 2").ok


def test_password_confirmation_counts_towards_the_rate_limit(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD)
    for i in range(3):
        assert not store.verify_password("alice", f"wrong-{i}")
    assert not store.verify_password("alice", PASSWORD)


def test_acting_as_sets_the_audit_actor_only_inside_the_block(store: AdminStore) -> None:
    with acting_as("carol"), store.ws.transaction() as conn:
        Workspace.audit(conn, "probe", None)
    with store.ws.transaction() as conn:
        Workspace.audit(conn, "probe2", None)
    actors = [e["actor"] for e in store.ws.audit_entries()]
    assert actors[0] == "console:carol"
    assert actors[1] != "console:carol"


def test_two_sessions_acting_at_once_each_record_their_own_admin(store: AdminStore) -> None:
    import os
    import threading

    both_inside = threading.Barrier(2, timeout=10)

    def session(admin: str) -> None:
        with acting_as(admin):
            both_inside.wait()  # the two blocks overlap: a process-wide actor would mix them up
            with store.ws.transaction() as conn:
                Workspace.audit(conn, f"probe-{admin}", None)
            both_inside.wait()

    threads = [threading.Thread(target=session, args=(a,)) for a in ("dora", "erin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    actors = {e["action"]: e["actor"] for e in store.ws.audit_entries()}
    assert actors["probe-dora"] == "console:dora"
    assert actors["probe-erin"] == "console:erin"
    assert os.environ.get("LOADCHECK_USER", "").startswith("console:") is False


def test_create_admin_cli_reads_the_password_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    result = CliRunner().invoke(
        app,
        ["console", "create-admin", "alice", "--password-stdin", "--home", str(home)],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert AdminStore(Workspace(home)).login("alice", PASSWORD).ok


def test_create_admin_cli_prompts_twice_and_refuses_different_passwords(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    result = CliRunner().invoke(
        app,
        ["console", "create-admin", "alice", "--home", str(home)],
        input=f"{PASSWORD}\n{PASSWORD}-typo\n",
    )
    assert result.exit_code == 2
    assert "differ" in result.output
    assert AdminStore(Workspace(home)).names() == []


def test_create_admin_cli_rejects_a_short_password_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["console", "create-admin", "alice", "--password-stdin", "--home", str(tmp_path)],
        input="short\n",
    )
    assert result.exit_code == 2
    assert "too short" in result.output


def test_console_refuses_to_start_without_an_admin(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["console", "--home", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "create-admin" in result.output


def test_login_upgrades_a_hash_made_with_weaker_parameters(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    AdminStore(ws, hasher=weak).create("alice", PASSWORD)
    strong = AdminStore(ws, hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert strong.login("alice", PASSWORD).ok
    assert "m=16,t=2" in _hash_of(strong, "alice")
    assert strong.login("alice", PASSWORD).ok
