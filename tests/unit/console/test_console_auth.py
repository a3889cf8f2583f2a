"""Admin accounts of the console: argon2 hashes, verification, rate limit, audit log, CLI."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.console.auth import AdminStore, AuthError, acting_as
from loadcheck.console.login_limits import Backoff, PasswordChecks
from loadcheck.workspace import Workspace

PASSWORD = "correct horse battery"


FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
#: 3 free failures per (name, address), then 10, 20, 40, 60 s; 6 per address over all names.
PAIR = Backoff(free_failures=3, first_delay_s=10.0, max_delay_s=60.0, window_s=120.0)
CLIENT = Backoff(free_failures=6, first_delay_s=10.0, max_delay_s=60.0, window_s=120.0)


@pytest.fixture
def store(tmp_path: Path) -> AdminStore:
    return AdminStore(
        Workspace(tmp_path / "ws"),
        hasher=FAST,
        per_name_and_client=PAIR,
        per_client=CLIENT,
        checks=PasswordChecks(2),
    )


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


def test_three_failures_delay_the_next_attempt_from_that_address_even_with_the_right_password(
    store: AdminStore,
) -> None:
    store.create("alice", PASSWORD)
    for i in range(3):
        assert not store.login("alice", f"wrong-{i}", client="10.0.0.9", now=1000.0 + i).ok
    delayed = store.login("alice", PASSWORD, client="10.0.0.9", now=1003.0)
    assert not delayed.ok
    assert "too many failed logins from this address; try again in 9 s" in delayed.message
    assert delayed.retry_after_s == pytest.approx(9.0)
    assert store.login("alice", PASSWORD, client="10.0.0.9", now=1012.0).ok


def test_each_further_failure_doubles_the_delay_up_to_the_cap(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    now, waits = 1000.0, []
    for i in range(6):
        result = store.login("alice", f"wrong-{i}", client="10.0.0.9", now=now)
        assert not result.ok and "wrong name or password" in result.message
        waits.append(round(result.retry_after_s))
        now += result.retry_after_s
    assert waits == [0, 0, 10, 20, 40, 60]  # then failures leave the 120 s window again


def test_wrong_passwords_from_another_address_do_not_lock_the_admin_out_of_theirs(
    store: AdminStore,
) -> None:
    store.create("alice", PASSWORD)
    now = 1000.0
    for i in range(20):  # a stranger who knows the name, as fast as the delays allow
        result = store.login("alice", f"guess-{i}", client="203.0.113.7", now=now)
        assert not result.ok
        if i < 19:
            now += max(result.retry_after_s, 0.1)
    assert result.retry_after_s > 0  # the stranger waits
    assert store.login("alice", PASSWORD, client="10.0.0.9", now=now).ok  # the admin does not


def test_failures_leave_the_window(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    for i in range(3):
        store.login("alice", f"wrong-{i}", client="10.0.0.9", now=1000.0)
    assert not store.login("alice", PASSWORD, client="10.0.0.9", now=1009.0).ok
    assert store.wait_s("alice", "10.0.0.9", now=1121.0) == 0.0
    assert store.login("alice", PASSWORD, client="10.0.0.9", now=1121.0).ok


def test_one_address_trying_many_names_is_delayed_for_every_name(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    for i in range(6):  # six names, one failure each: under the per-name limit
        store.login(f"user{i}", "wrong-password", client="203.0.113.7", now=1000.0 + i)
    delayed = store.login("alice", PASSWORD, client="203.0.113.7", now=1006.0)
    assert not delayed.ok and delayed.retry_after_s > 0
    assert store.login("alice", PASSWORD, client="10.0.0.9", now=1006.0).ok


def test_failures_of_one_name_do_not_delay_another(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    store.create("bob", PASSWORD)
    for i in range(3):
        store.login("alice", f"wrong-{i}", client="10.0.0.9", now=1000.0)
    assert store.login("bob", PASSWORD, client="10.0.0.9", now=1001.0).ok


def test_a_login_that_finds_every_check_slot_busy_is_told_to_retry(tmp_path: Path) -> None:
    checks = PasswordChecks(1, wait_s=0.05)
    store = AdminStore(Workspace(tmp_path / "ws"), hasher=FAST, checks=checks)
    store.create("alice", PASSWORD)
    with checks.slot():
        busy = store.login("alice", PASSWORD)
    assert not busy.ok and "busy" in busy.message
    assert store.wait_s("alice") == 0.0  # not counted as a failure
    assert store.login("alice", PASSWORD).ok


def test_concurrent_logins_run_at_most_the_configured_number_of_password_checks(
    tmp_path: Path,
) -> None:
    class SlowHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            time.sleep(0.05)
            return super().verify(hash, password)

    checks = PasswordChecks(2, wait_s=30.0)
    store = AdminStore(
        Workspace(tmp_path / "ws"),
        hasher=SlowHasher(time_cost=1, memory_cost=8, parallelism=1),
        checks=checks,
    )
    store.create("alice", PASSWORD)
    checks.reset_peak()
    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda i: store.login("alice", PASSWORD, client=f"10.0.0.{i}"), range(16))
        )
    assert all(r.ok for r in results)
    assert checks.peak == 2


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
    assert entries[1]["detail"]["client"] == "local"
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


def test_password_confirmation_counts_towards_the_delays(store: AdminStore) -> None:
    store.create("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD)
    for i in range(3):
        assert not store.verify_password("alice", f"wrong-{i}")
    assert not store.verify_password("alice", PASSWORD)
    assert store.verify_password("alice", PASSWORD, client="10.0.0.9")


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
