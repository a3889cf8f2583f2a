"""Cameras in the workspace: the store, its token, the CLI, the published document and the
gateway passing a camera's region of interest to inference."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from loadcheck.gateway.token_source import TOKENS_FILE, PublishedTokens, parse_document
from loadcheck.gateway.tokens import TokenBinding, TokenStore
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import InspectionResult, Verdict
from loadcheck.workspace import Workspace
from loadcheck.workspace.cameras import CameraError, CameraNotFoundError, CameraStore

LANE = [[10.0, 20.0], [300.0, 20.0], [300.0, 400.0], [10.0, 400.0]]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    integrators = IntegratorStore(ws.home)
    integrators.create("site_a")
    integrators.create("site_b")
    return ws


@pytest.fixture
def cameras(workspace: Workspace) -> CameraStore:
    return CameraStore(workspace)


def test_add_issues_the_cameras_own_token_beside_the_integrators(cameras, workspace):
    tokens = TokenStore(workspace)
    own = tokens.issue("site_a")
    camera, issued = cameras.add("gate-1", "site_a", LANE)
    assert camera.roi == tuple(tuple(p) for p in LANE)
    assert issued.binding == TokenBinding("site_a", "gate-1")
    found = tokens.lookup(issued.token)
    assert found == TokenBinding("site_a", "gate-1")
    assert found is not None and found.roi == camera.roi
    # the integrator's own URL keeps working, without a region
    mine = tokens.lookup(own.token)
    assert mine == TokenBinding("site_a") and mine is not None and mine.roi is None
    assert cameras.get("gate-1") == camera
    actions = [e["action"] for e in workspace.audit_entries("site_a")]
    assert "camera_added" in actions and "gateway_token_issued" in actions


@pytest.mark.parametrize(
    ("name", "integrator", "roi", "message"),
    [
        ("Gate 1", "site_a", None, "invalid camera name 'Gate 1'"),
        ("-gate", "site_a", None, "invalid camera name"),
        ("gate-1", "nowhere", None, "no integrator 'nowhere'"),
        ("gate-1", "site_a", [[0, 0], [1, 1]], "expected 3 to 256 points"),
        ("gate-1", "site_a", [[0, 0], [5, 5], [9, 9]], "enclose no area"),
        ("gate-1", "site_a", [[0, 0], [float("nan"), 5], [9, 0]], "not a finite"),
    ],
)
def test_add_refuses_bad_input_naming_it_and_stores_nothing(
    cameras, workspace, name, integrator, roi, message
):
    with pytest.raises(CameraError, match=message):
        cameras.add(name, integrator, roi)
    assert cameras.list() == []
    assert TokenStore(workspace).all() == []


def test_a_second_camera_of_one_name_is_refused(cameras):
    cameras.add("gate-1", "site_a")
    with pytest.raises(CameraError, match="exists already"):
        cameras.add("gate-1", "site_b")
    assert [c.integrator for c in cameras.list()] == ["site_a"]


def test_edit_changes_the_roi_and_moves_the_token_with_the_integrator(cameras, workspace):
    _, issued = cameras.add("gate-1", "site_a")
    tokens = TokenStore(workspace)
    assert tokens.lookup(issued.token).roi is None  # type: ignore[union-attr]
    edited = cameras.edit("gate-1", roi=LANE)
    assert tokens.lookup(issued.token).roi == edited.roi  # type: ignore[union-attr]
    moved = cameras.edit("gate-1", integrator="site_b")
    assert moved.roi == edited.roi and moved.integrator == "site_b"
    assert tokens.lookup(issued.token) == TokenBinding("site_b", "gate-1")  # the URL stays
    cleared = cameras.edit("gate-1", clear_roi=True)
    assert cleared.roi is None and tokens.lookup(issued.token).roi is None  # type: ignore[union-attr]
    assert [c.name for c in cameras.list("site_b")] == ["gate-1"]
    assert cameras.list("site_a") == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, CameraError, "nothing to change"),
        ({"roi": LANE, "clear_roi": True}, CameraError, "not both"),
        ({"integrator": "nowhere"}, CameraError, "no integrator 'nowhere'"),
        ({"roi": [[0, 0]]}, CameraError, "expected 3 to 256 points"),
    ],
)
def test_edit_refuses_bad_input_and_keeps_the_camera(cameras, kwargs, error, message):
    camera, _ = cameras.add("gate-1", "site_a", LANE)
    with pytest.raises(error, match=message):
        cameras.edit("gate-1", **kwargs)
    assert cameras.get("gate-1") == camera


def test_delete_revokes_the_token(cameras, workspace):
    _, issued = cameras.add("gate-1", "site_a", LANE)
    cameras.delete("gate-1")
    assert cameras.get("gate-1") is None
    assert TokenStore(workspace).lookup(issued.token) is None
    with pytest.raises(CameraNotFoundError, match="no camera 'gate-1'"):
        cameras.delete("gate-1")
    with pytest.raises(CameraNotFoundError, match="no camera 'gate-1'"):
        cameras.edit("gate-1", roi=LANE)


def test_the_published_document_carries_the_cameras_roi(cameras, workspace, tmp_path):
    from loadcheck.gateway.token_source import publish_tokens

    _, issued = cameras.add("gate-1", "site_a", LANE)
    _, plain = cameras.add("gate-2", "site_a")
    repository = tmp_path / "repo"
    repository.mkdir()
    publish_tokens(TokenStore(workspace).all(), str(repository))
    document = json.loads((repository / TOKENS_FILE).read_text())
    by_camera = {e["camera"]: e for e in document["tokens"]}
    assert by_camera["gate-1"]["roi"] == LANE
    assert "roi" not in by_camera["gate-2"]
    published = PublishedTokens(str(repository))
    assert published.lookup(issued.token).roi == tuple(tuple(p) for p in LANE)  # type: ignore[union-attr]
    assert published.lookup(plain.token).roi is None  # type: ignore[union-attr]


def test_a_published_document_with_a_bad_roi_is_refused_naming_the_entry():
    from loadcheck.gateway.token_source import TokenSourceError

    entry = {"integrator": "site_a", "camera": "gate-1", "sha256": "a" * 64, "roi": [[0, 0]]}
    data = json.dumps(
        {"format": "loadcheck-gateway-tokens", "version": 1, "hash": "sha256", "tokens": [entry]}
    ).encode()
    with pytest.raises(TokenSourceError, match=r"tokens\[0\]: 'roi': ROI: expected 3 to 256"):
        parse_document(data)


# -- the CLI ----------------------------------------------------------------------------------


def run(*args: str):  # type: ignore[no-untyped-def]
    from loadcheck.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_camera_commands(workspace, tmp_path):
    home = str(workspace.home)
    repository = tmp_path / "repo"
    repository.mkdir()
    common = ["--home", home, "--repository", str(repository)]
    added = run(
        "camera",
        "add",
        "gate-1",
        "--integrator",
        "site_a",
        "--roi",
        "10,20 300,20 300,400",
        *common,
    )
    assert added.exit_code == 0, added.output
    url = next(line for line in added.output.splitlines() if "/quality_detector/" in line)
    token = url.split("/quality_detector/handle_image_post/")[1].split("/")[0]
    assert TokenStore(workspace).lookup(token) == TokenBinding("site_a", "gate-1")
    assert json.loads((repository / TOKENS_FILE).read_text())["tokens"][0]["roi"] == [
        [10.0, 20.0],
        [300.0, 20.0],
        [300.0, 400.0],
    ]
    listed = run("camera", "list", "--home", home)
    assert "gate-1\tsite_a\troi: 10,20 300,20 300,400" in listed.output
    shown = json.loads(run("camera", "show", "gate-1", "--home", home).output)
    assert shown["roi"] == [[10.0, 20.0], [300.0, 20.0], [300.0, 400.0]]
    edited = run("camera", "edit", "gate-1", "--no-roi", *common)
    assert edited.exit_code == 0 and "roi: whole photo" in edited.output
    assert "roi" not in json.loads((repository / TOKENS_FILE).read_text())["tokens"][0]
    deleted = run("camera", "delete", "gate-1", *common)
    assert deleted.exit_code == 0 and "revoked" in deleted.output
    assert TokenStore(workspace).lookup(token) is None
    assert json.loads((repository / TOKENS_FILE).read_text())["tokens"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "Gate", "--integrator", "site_a"], "invalid camera name 'Gate'"),
        (["add", "gate-1", "--integrator", "site_a", "--roi", "1,2 3"], "--roi: ROI point 2 '3'"),
        (["add", "gate-1", "--integrator", "nowhere"], "no integrator 'nowhere'"),
        (["show", "gate-9"], "no camera 'gate-9'"),
        (["edit", "gate-9", "--no-roi"], "no camera 'gate-9'"),
        (["delete", "gate-9"], "no camera 'gate-9'"),
    ],
)
def test_camera_command_errors_name_what_is_wrong(workspace, args, message):
    result = run("camera", *args, "--home", str(workspace.home))
    assert result.exit_code == 2
    assert message in result.output


# -- the gateway ------------------------------------------------------------------------------


class RoiBackend:
    """Records the region of interest each request was sent with."""

    def __init__(self) -> None:
        self.rois: list[object] = []

    async def inspect(self, image: bytes, integrator: str, *, request_id=None, **kw):  # type: ignore[no-untyped-def]
        self.rois.append(kw.get("roi", "not passed"))
        return InspectionResult(Verdict.NO_MINE_DETECTED, 0.0, 0.5, None)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("source", ["workspace", "published"])
def test_the_gateway_passes_the_cameras_roi_only_for_a_camera_with_one(
    cameras, workspace, tmp_path, source
):
    from loadcheck.gateway.app import create_app
    from loadcheck.gateway.token_source import publish_tokens
    from loadcheck.gateway.tokens import legacy_path

    own = TokenStore(workspace).issue("site_a")
    _, lane = cameras.add("gate-1", "site_a", LANE)
    _, plain = cameras.add("gate-2", "site_a")
    lookup: object = TokenStore(workspace)
    if source == "published":
        repository = tmp_path / "repo"
        repository.mkdir()
        publish_tokens(TokenStore(workspace).all(), str(repository))
        lookup = PublishedTokens(str(repository))
    backend = RoiBackend()
    photo = cv2.imencode(".jpg", np.full((40, 60, 3), 200, np.uint8))[1].tobytes()
    with TestClient(create_app(backend, lookup)) as client:  # type: ignore[arg-type]
        for issued in (lane, plain, own):
            response = client.post(
                legacy_path(issued.token), files={"image": ("t.jpg", photo, "image/jpeg")}
            )
            assert response.status_code == 200, response.text
    assert backend.rois == [LANE, "not passed", "not passed"]


def test_a_workspace_of_schema_3_gets_the_cameras_table_and_keeps_its_tokens(tmp_path):
    import sqlite3

    from loadcheck.workspace.db import DB_FILE, SCHEMA_VERSION

    ws = Workspace(tmp_path / "old")
    IntegratorStore(ws.home).create("site_a")
    issued = TokenStore(ws).issue("site_a")
    with sqlite3.connect(ws.home / DB_FILE) as conn:  # as a workspace before cameras
        conn.execute("DROP TABLE cameras")
        conn.execute("PRAGMA user_version = 3")
    reopened = Workspace(ws.home)
    with reopened.reader() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert TokenStore(reopened).lookup(issued.token) == TokenBinding("site_a")
    CameraStore(reopened).add("gate-1", "site_a", LANE)
    assert [c.name for c in CameraStore(reopened).list()] == ["gate-1"]
