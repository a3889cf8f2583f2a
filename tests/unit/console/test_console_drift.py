"""The console's Drift page, driven by Streamlit's AppTest: records of night scenes on one camera
raise the warning, records of the fitting style on another do not, and a version fitted before
drift references says to refit (features from synthetic scenes' true masks; no Triton)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from loadcheck.console.auth import AdminStore
from loadcheck.integrators.store import IntegratorStore
from loadcheck.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))
from drift_site import OTHER, SAME, DriftSite, drop_reference, make_site

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "drift-page-test-password"


def _open(site: DriftSite, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    AdminStore(Workspace(site.home)).create(ADMIN, PASSWORD)
    monkeypatch.setenv("LOADCHECK_HOME", str(site.home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(site.repository))
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_button").click().run()
    at.sidebar.radio(key="page").set_value("Drift").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_the_camera_of_another_scene_style_is_warned_about_and_the_other_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    at = _open(make_site(tmp_path), monkeypatch)
    # all cameras, then each camera: the night camera warns, the classic one does not
    warned = " ".join(_warnings(at))
    assert f"the photos of camera {OTHER}" in warned and "shifted a lot" in warned
    assert f"camera {SAME}" not in warned
    assert any(f"camera {SAME}" in s.value and "still look like" in s.value for s in at.success)
    at.selectbox(key="drift_camera").set_value(SAME).run()
    assert not _warnings(at)
    assert "still look like the fitting data" in at.success[0].value
    table = at.dataframe[0].value
    assert len(table) > 10 and not table["shifted a lot"].any()
    at.selectbox(key="drift_camera").set_value(OTHER).run()
    assert len(_warnings(at)) == 1 and "no longer look like the fitting data" in _warnings(at)[0]
    table = at.dataframe[0].value
    assert table["shifted a lot"].sum() >= 2
    assert table["PSI"].iloc[0] == table["PSI"].max()  # largest first


def test_too_few_records_and_a_version_without_reference_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = make_site(tmp_path, other=False)
    at = _open(site, monkeypatch)
    at.number_input(key="drift_last").set_value(10).run()
    assert not _warnings(at)
    assert "at least 30 are needed" in at.info[0].value
    drop_reference(IntegratorStore(site.home, site.repository))
    at.number_input(key="drift_last").set_value(200).run()
    assert not _warnings(at)
    assert "fitted before fits stored a drift reference" in at.info[0].value
