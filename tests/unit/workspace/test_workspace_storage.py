"""Atomic writes, the image store and the SQLite workspace."""

from __future__ import annotations

import pytest

from loadcheck.workspace import ImageStore, Workspace, atomic_write_bytes, atomic_write_dir
from loadcheck.atomic import remove_dir_atomically
from loadcheck.workspace.paths import default_home, default_repository


def test_atomic_write_replaces_the_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


def test_a_failed_directory_write_leaves_nothing(tmp_path):
    def fill(tmp):
        (tmp / "a").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write_dir(tmp_path / "v1", fill)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_overwritten(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "keep").write_text("old")
    with pytest.raises(FileExistsError):
        atomic_write_dir(tmp_path / "v1", lambda tmp: (tmp / "keep").write_text("new"))
    assert (tmp_path / "v1" / "keep").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]


def test_a_directory_is_removed_in_one_step(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    remove_dir_atomically(tmp_path / "d")
    assert list(tmp_path.iterdir()) == []


def test_the_image_store_names_files_by_content(tmp_path):
    store = ImageStore(tmp_path)
    sha = store.put(b"abc", "JPG")
    assert store.put(b"abc", "jpg") == sha
    assert store.path(sha, "jpg") == tmp_path / sha[:2] / f"{sha}.jpg"
    assert store.get(sha, "jpg") == b"abc"
    with pytest.raises(FileNotFoundError, match="missing from the image store"):
        store.get("0" * 64, "png")


def test_a_failed_transaction_is_rolled_back(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(RuntimeError), ws.transaction() as conn:
        ws.audit(conn, "create", "a")
        raise RuntimeError("stop")
    assert ws.audit_entries() == []


def test_reopening_a_workspace_keeps_its_data(tmp_path):
    ws = Workspace(tmp_path)
    with ws.transaction() as conn:
        ws.audit(conn, "create", "a", note="hi")
    (entry,) = Workspace(tmp_path).audit_entries("a")
    assert entry["detail"] == {"note": "hi"}


def test_default_locations_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOADCHECK_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(tmp_path / "r"))
    assert default_home() == tmp_path / "h"
    assert default_repository() == tmp_path / "r"
    monkeypatch.delenv("LOADCHECK_HOME")
    monkeypatch.delenv("LOADCHECK_REPOSITORY")
    assert str(default_home()) == "workspace"
    assert str(default_repository()) == "model_repository"
