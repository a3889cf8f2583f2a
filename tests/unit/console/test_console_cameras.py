"""The console's Cameras page, driven by Streamlit's AppTest: add a camera with a region (its URL
shown once, the token document published), the preview drawn, a bad region refused by name,
edit the region, delete the camera (its URL revoked)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from loadcheck.console.auth import AdminStore
from loadcheck.gateway.token_source import TOKENS_FILE
from loadcheck.gateway.tokens import TokenBinding, TokenStore
from loadcheck.integrators.store import IntegratorStore
from loadcheck.workspace import Workspace
from loadcheck.workspace.cameras import CameraStore

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "cameras-page-test-password"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    home, repository = tmp_path / "ws", tmp_path / "repo"
    repository.mkdir()
    IntegratorStore(home).create("site_a")
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    monkeypatch.setenv("LOADCHECK_HOME", str(home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(repository))
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    return home, repository


def _open() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_button").click().run()
    at.sidebar.radio(key="page").set_value("Cameras").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_add_edit_and_delete_a_camera(site):
    home, repository = site
    at = _open()
    assert "no cameras yet" in at.info[0].value
    at.text_input(key="camera_add_name").input("gate-1")
    at.text_input(key="camera_add_roi").input("10,20 300,20 300,400").run()
    assert len(at.get("image")) == 1  # the preview
    at.button(key="camera_add").click().run()
    assert not at.error, [e.value for e in at.error]
    path = at.code[0].value
    token = path.split("/quality_detector/handle_image_post/")[1].split("/")[0]
    store = CameraStore(Workspace(home))
    assert store.require("gate-1").roi == ((10.0, 20.0), (300.0, 20.0), (300.0, 400.0))
    assert TokenStore(Workspace(home)).lookup(token) == TokenBinding("site_a", "gate-1")
    document = json.loads((repository / TOKENS_FILE).read_text())
    assert document["tokens"][0]["roi"] == [[10.0, 20.0], [300.0, 20.0], [300.0, 400.0]]
    with (home / "loadcheck.db").open("rb") as db:  # the token itself is never stored
        assert token.encode() not in db.read()

    # a bad region is refused by name; nothing changes
    at.text_input(key="camera_roi_gate-1").input("10,20 300,20").run()
    assert "expected 3 to 256 points" in at.warning[0].value
    at.button(key="camera_save").click().run()
    assert "edit camera failed" in at.error[0].value
    assert store.require("gate-1").roi == ((10.0, 20.0), (300.0, 20.0), (300.0, 400.0))

    at.text_input(key="camera_roi_gate-1").input("0,0 50,0 50,50 0,50").run()
    at.button(key="camera_save").click().run()
    assert not at.error, [e.value for e in at.error]
    assert store.require("gate-1").roi == ((0.0, 0.0), (50.0, 0.0), (50.0, 50.0), (0.0, 50.0))
    assert "0,0 50,0 50,50 0,50" in at.dataframe[0].value["region of interest"].tolist()

    at.checkbox(key="camera_confirm").check().run()
    at.button(key="camera_delete").click().run()
    assert not at.error, [e.value for e in at.error]
    assert store.get("gate-1") is None
    assert TokenStore(Workspace(home)).lookup(token) is None
    assert json.loads((repository / TOKENS_FILE).read_text())["tokens"] == []


def test_the_preview_draws_the_polygon_on_the_sample_photo():
    from loadcheck.console.views.cameras import ROI_COLOUR, roi_preview

    photo = np.zeros((100, 200, 3), np.uint8)
    drawn = roi_preview(photo, [(20, 20), (120, 20), (120, 80), (20, 80)])
    assert drawn.shape == photo.shape
    assert (drawn[50, 70] > 0).any()  # inside: tinted
    assert tuple(drawn[20, 70]) == ROI_COLOUR  # on the outline
    assert not drawn[5, 190].any()  # far outside: untouched
    canvas = roi_preview(None, [(20, 20), (120, 20), (120, 80)])
    assert canvas.shape[0] >= 80 and canvas.shape[1] >= 120
