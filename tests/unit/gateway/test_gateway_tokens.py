from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.gateway.tokens import TokenStore, plausible_token
from loadcheck.workspace import Workspace
from loadcheck.workspace.db import now_iso


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def add_integrator(workspace: Workspace, name: str, served_version: int | None) -> None:
    with workspace.transaction() as conn:
        conn.execute(
            "INSERT INTO integrators (name, model_type, served_version, created_at, updated_at) "
            "VALUES (?, 'gbtree', ?, ?, ?)",
            (name, served_version, now_iso(), now_iso()),
        )


def test_tokens_are_long_random_and_url_safe(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    tokens = {store.rotate("site_a").token for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 43 and plausible_token(t) for t in tokens)


def test_issuing_is_idempotent_and_lookup_finds_the_integrator(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    first = store.issue("site_a")
    assert store.issue("site_a") == first
    assert store.lookup(first.token) == "site_a"
    assert store.lookup("unknown") is None
    assert store.lookup("'; DROP TABLE gateway_tokens; --") is None


def test_rotation_replaces_the_token_and_keeps_the_creation_time(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    old = store.issue("site_a")
    new = store.rotate("site_a")
    assert new.token != old.token
    assert new.created_at == old.created_at
    assert store.lookup(old.token) is None
    assert store.lookup(new.token) == "site_a"


def test_tokens_survive_reopening_the_workspace(workspace: Workspace) -> None:
    token = TokenStore(workspace).issue("site_a").token
    assert TokenStore(Workspace(workspace.home)).lookup(token) == "site_a"


def test_revoking_deletes_the_token(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    token = store.issue("site_a").token
    assert store.revoke("site_a")
    assert not store.revoke("site_a")
    assert store.lookup(token) is None


def test_every_deployed_integrator_gets_a_token_and_undeployed_ones_do_not(
    workspace: Workspace,
) -> None:
    add_integrator(workspace, "north", 3)
    add_integrator(workspace, "south", None)
    store = TokenStore(workspace)
    assert [t.integrator for t in store.issue_for_deployed()] == ["north"]
    assert store.issue_for_deployed() == []
    assert [t.integrator for t in store.all()] == ["north"]


def test_token_changes_are_audited_without_the_token(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    token = store.issue("site_a").token
    rotated = store.rotate("site_a").token
    entries = workspace.audit_entries("site_a")
    assert [e["action"] for e in entries] == ["gateway_token_issued", "gateway_token_rotated"]
    dumped = json.dumps(entries)
    assert token not in dumped and rotated not in dumped


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["gateway", *args])
    return result.exit_code, result.stdout, result.stderr


def test_gateway_tokens_lists_the_url_of_every_deployed_integrator(workspace: Workspace) -> None:
    add_integrator(workspace, "north", 1)
    code, out, _ = run_cli("tokens", "--home", str(workspace.home))
    assert code == 0
    token = TokenStore(workspace).get("north")
    assert token is not None
    assert f"north\t/quality_detector/handle_image_post/{token.token}/" in out


def test_gateway_rotate_prints_the_new_url_and_refuses_unknown_integrators(
    workspace: Workspace,
) -> None:
    add_integrator(workspace, "north", 1)
    store = TokenStore(workspace)
    old = store.issue("north").token
    code, out, _ = run_cli("rotate", "north", "--home", str(workspace.home))
    assert code == 0
    new = store.get("north")
    assert new is not None and new.token != old and new.token in out
    code, _, err = run_cli("rotate", "nobody", "--home", str(workspace.home))
    assert code == 2
    assert "no integrator 'nobody'" in err and "north" in err


def test_gateway_revoke_of_an_integrator_without_token_exits_two(workspace: Workspace) -> None:
    code, _, err = run_cli("revoke", "north", "--home", str(workspace.home))
    assert code == 2 and "has no token" in err


def test_gateway_refuses_a_malformed_triton_url(workspace: Workspace) -> None:
    code, _, err = run_cli("--triton", "http://h:8000/v2", "--home", str(workspace.home))
    assert code == 2 and "host:port" in err
