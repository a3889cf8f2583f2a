from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.gateway.token_source import (
    TOKENS_FILE,
    PublishedTokens,
    parse_document,
    publish_tokens,
)
from loadcheck.gateway.tokens import (
    TokenBinding,
    TokenError,
    TokenStore,
    plausible_token,
    token_sha256,
)
from loadcheck.workspace import Workspace
from loadcheck.workspace.db import DB_FILE, now_iso


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder: the CLI's default repository (./model_repository) is not the
    checkout's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOADCHECK_REPOSITORY", raising=False)


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


def test_issuing_shows_the_token_once_and_lookup_finds_its_source(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    first = store.issue("site_a")
    assert store.ensure("site_a") is None
    with pytest.raises(TokenError, match="rotate it"):
        store.issue("site_a")
    assert store.lookup(first.token) == TokenBinding("site_a", None)
    assert store.lookup("unknown") is None
    assert store.lookup("'; DROP TABLE gateway_token_hashes; --") is None


def test_only_the_hash_of_a_token_is_stored(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    token = store.issue("site_a").token
    record = store.get("site_a")
    assert record is not None and record.token_sha256 == token_sha256(token)
    assert not hasattr(record, "token")
    for path in workspace.home.glob("*.db*"):
        assert token.encode() not in path.read_bytes()


def test_a_camera_has_its_own_token_next_to_its_integrators(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    own = store.issue("site_a")
    lane = store.issue("site_a", camera="lane-2")
    assert store.lookup(own.token) == TokenBinding("site_a")
    assert store.lookup(lane.token) == TokenBinding("site_a", "lane-2")
    store.rotate("site_a", camera="lane-2")
    assert store.lookup(lane.token) is None
    assert store.lookup(own.token) == TokenBinding("site_a")
    assert [str(r.binding) for r in store.all()] == ["site_a", "site_a/lane-2"]
    assert store.revoke("site_a", "lane-2") and store.lookup(own.token) is not None
    with pytest.raises(TokenError, match="camera name 'Lane 2'"):
        store.rotate("site_a", camera="Lane 2")


def test_clear_tokens_of_an_older_workspace_are_hashed_and_keep_working(tmp_path: Path) -> None:
    home = tmp_path / "old"
    Workspace(home)
    clear = "A" * 20 + "legacy-clear-token-xyz"
    with sqlite3.connect(home / DB_FILE) as conn:
        conn.execute(
            "CREATE TABLE gateway_tokens (integrator TEXT PRIMARY KEY, token TEXT NOT NULL "
            "UNIQUE, created_at TEXT NOT NULL, rotated_at TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO gateway_tokens VALUES ('north', ?, '2025-01-01T00:00:00Z', "
            "'2025-02-01T00:00:00Z')",
            (clear,),
        )
    store = TokenStore(Workspace(home))
    assert store.lookup(clear) == TokenBinding("north")
    record = store.get("north")
    assert record is not None and record.rotated_at == "2025-02-01T00:00:00Z"
    with store.workspace.reader() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "gateway_tokens" not in tables
    for path in home.glob("*.db*"):  # the database and its write-ahead log
        assert clear.encode() not in path.read_bytes(), path.name
    assert [
        e["detail"]["count"]
        for e in store.workspace.audit_entries()
        if e["action"] == "gateway_tokens_hashed"
    ] == [1]
    assert TokenStore(Workspace(home)).lookup(clear) == TokenBinding("north")


def test_rotation_replaces_the_token_and_keeps_the_creation_time(workspace: Workspace) -> None:
    store = TokenStore(workspace)
    old = store.issue("site_a")
    new = store.rotate("site_a")
    assert new.token != old.token
    assert new.created_at == old.created_at
    assert store.lookup(old.token) is None
    assert store.lookup(new.token) == TokenBinding("site_a")


def test_tokens_survive_reopening_the_workspace(workspace: Workspace) -> None:
    token = TokenStore(workspace).issue("site_a").token
    assert TokenStore(Workspace(workspace.home)).lookup(token) == TokenBinding("site_a")


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


def test_gateway_tokens_shows_new_urls_once_and_then_only_the_sources(
    workspace: Workspace,
) -> None:
    add_integrator(workspace, "north", 1)
    code, out, _ = run_cli("tokens", "--home", str(workspace.home))
    assert code == 0
    token = out.split("/quality_detector/handle_image_post/", 1)[1].split("/", 1)[0]
    assert "shown once" in out
    assert TokenStore(workspace).lookup(token) == TokenBinding("north")
    code, again, _ = run_cli("tokens", "--home", str(workspace.home))
    assert code == 0 and token not in again and "north\trotated " in again


def test_gateway_rotate_prints_the_new_url_and_refuses_unknown_integrators(
    workspace: Workspace,
) -> None:
    add_integrator(workspace, "north", 1)
    store = TokenStore(workspace)
    old = store.issue("north").token
    code, out, _ = run_cli("rotate", "north", "--home", str(workspace.home))
    assert code == 0
    new = out.split("/quality_detector/handle_image_post/", 1)[1].split("/", 1)[0]
    assert new != old and store.lookup(new) == TokenBinding("north")
    assert store.lookup(old) is None
    code, _, err = run_cli("rotate", "nobody", "--home", str(workspace.home))
    assert code == 2
    assert "no integrator 'nobody'" in err and "north" in err


def test_rotate_and_revoke_publish_the_hashes_into_the_repository_folder(
    workspace: Workspace, tmp_path: Path
) -> None:
    add_integrator(workspace, "north", 1)
    repository = tmp_path / "repository"
    repository.mkdir()
    where = ["--home", str(workspace.home), "--repository", str(repository)]
    code, out, err = run_cli("rotate", "north", "--camera", "gate-1", *where)
    assert code == 0 and "published 1 token hashes" in err
    token = out.split("/quality_detector/handle_image_post/", 1)[1].split("/", 1)[0]
    document = (repository / TOKENS_FILE).read_text()
    assert token not in document
    assert [(e.binding, e.sha256) for e in parse_document(document.encode())] == [
        (TokenBinding("north", "gate-1"), token_sha256(token))
    ]
    code, _, _ = run_cli("revoke", "north", "--camera", "gate-1", *where)
    assert code == 0 and parse_document((repository / TOKENS_FILE).read_bytes()) == []
    code, _, err = run_cli("rotate", "north", *where[:2], "--repository", str(tmp_path / "none"))
    assert code == 0 and "not published: no repository folder" in err


def test_gateway_revoke_of_an_integrator_without_token_exits_two(workspace: Workspace) -> None:
    code, _, err = run_cli("revoke", "north", "--home", str(workspace.home))
    assert code == 2 and "has no token" in err


def test_gateway_refuses_a_malformed_triton_url(workspace: Workspace) -> None:
    code, _, err = run_cli("--triton", "http://h:8000/v2", "--home", str(workspace.home))
    assert code == 2 and "host:port" in err


class ServedError(Exception):
    """Raised by the fake create_app once it has the token source."""


def test_the_gateway_reads_the_published_tokens_of_a_repository_without_a_workspace(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loadcheck.gateway.app as gateway_app

    repository = tmp_path / "repository"
    store = TokenStore(workspace)
    token = store.issue("north", camera="gate-1").token
    publish_tokens(store.all(), repository)
    seen: dict[str, object] = {}

    def fake_create_app(backend: object, tokens: object, **kw: object) -> None:
        seen["tokens"] = tokens
        raise ServedError

    monkeypatch.setattr(gateway_app, "create_app", fake_create_app)
    never = tmp_path / "no-workspace"
    result = CliRunner().invoke(
        app,
        [
            "gateway",
            "--tokens-from",
            "repository",
            "--repository",
            str(repository),
            "--home",
            str(never),
        ],
    )
    assert isinstance(result.exception, ServedError), result.output
    tokens = seen["tokens"]
    assert isinstance(tokens, PublishedTokens)
    assert tokens.lookup(token) == TokenBinding("north", "gate-1")
    assert not never.exists()


def test_an_unusable_token_source_stops_the_gateway_with_its_reason(workspace: Workspace) -> None:
    code, _, err = run_cli("--tokens-from", "ftp://host/models", "--home", str(workspace.home))
    assert code == 2
    assert "--tokens-from ftp://host/models" in err and "expected a folder or s3://" in err
