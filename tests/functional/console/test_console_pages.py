"""The console's page flows driven by Streamlit's AppTest against a temp workspace and the real
Triton fixture: login -> create -> add data -> fit -> test -> deploy -> rollback -> undeploy,
plus the Segmentator, Segment images and Audit log pages, and bad uploads."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from loadcheck.console.auth import AdminStore
from loadcheck.gateway.token_source import TOKENS_FILE
from loadcheck.gateway.tokens import token_sha256
from loadcheck.workspace import Workspace

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "console-test-password"
NAME = "console_site"


@dataclass(frozen=True)
class Env:
    home: Path
    fitting: Path  # write_dataset output: qualified.zip, unqualified.zip, masks/
    test_zip: Path
    test_labels: bytes
    test_masks: Path
    triton: object


@pytest.fixture(scope="module")
def env(triton: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from loadcheck.synth import write_dataset

    root = tmp_path_factory.mktemp("console")
    fitting = root / "fitting"
    write_dataset(fitting, 20, 3, (320, 180), progress=False)
    test = root / "test"
    write_dataset(test, 6, 11, (320, 180), progress=False)
    doc = json.loads((test / "labels.json").read_text())
    test_zip = root / "test.zip"
    labels = io.StringIO()
    writer = csv.writer(labels)
    writer.writerow(["image", "label"])
    with zipfile.ZipFile(test_zip, "w") as zf:
        for record in doc["images"]:
            name = Path(record["file"]).name
            zf.write(test / record["file"], name)
            writer.writerow([name, record["label"]])
    home = root / "ws"
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    yield Env(home, fitting, test_zip, labels.getvalue().encode(), test / "masks", triton)


@pytest.fixture
def app(env: Env, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    t = env.triton
    monkeypatch.setenv("LOADCHECK_HOME", str(env.home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(t.repository))  # type: ignore[attr-defined]
    monkeypatch.setenv("LOADCHECK_TRITON_URL", t.http_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("LOADCHECK_API_KEY", t.api_key)  # type: ignore[attr-defined]
    monkeypatch.setenv("LOADCHECK_CONSOLE_MAX_IMAGES", "3")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    return at


def _login(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(password)
    at.button(key="login_button").click().run()
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _successes(at: AppTest) -> list[str]:
    return [e.value for e in at.success]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not _errors(at), _errors(at)


def _page(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    _ok(at)
    return at


def _section(at: AppTest, section: str) -> AppTest:
    at.radio(key="section").set_value(section).run()
    _ok(at)
    return at


def _model_ready(env: Env, model: str, version: str = "") -> bool:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(env.triton.http_url)  # type: ignore[attr-defined]
    return bool(client.is_model_ready(model, version))


def _shown_token(at: AppTest) -> str:
    """The token of the legacy URL in the page's code blocks."""
    marker = "/quality_detector/handle_image_post/"
    code = next(c.value for c in at.code if marker in c.value)
    return code.split(marker, 1)[1].split("/", 1)[0]


def test_every_page_needs_a_login(app: AppTest) -> None:
    assert app.text_input(key="login_password") is not None
    assert len(app.sidebar.radio) == 0
    assert app.title[0].value == "loadcheck console"


def test_wrong_password_is_refused_and_logged(app: AppTest, env: Env) -> None:
    _login(app, "not-the-password")
    assert any("wrong name or password" in e for e in _errors(app))
    assert len(app.sidebar.radio) == 0
    actions = [e["action"] for e in Workspace(env.home).audit_entries()]
    assert "login-failed" in actions


def test_integrator_flow_from_create_to_undeploy(app: AppTest, env: Env) -> None:
    at = _login(app)
    _ok(at)
    # create
    at.text_input(key="new_name").input(NAME)
    at.text_input(key="new_description").input("console test site")
    at.button(key="create").click().run()
    _ok(at)
    assert at.selectbox(key="integrator").value == NAME
    # a bad upload shows the error and adds nothing
    _section(at, "Fitting data")
    at.file_uploader(key="add_qualified").upload("q.zip", b"not a zip at all", "application/zip")
    at.file_uploader(key="add_unqualified").upload(
        "u.zip", (env.fitting / "unqualified.zip").read_bytes(), "application/zip"
    )
    at.button(key="add_data").click().run()
    assert any("not a valid zip archive" in e for e in _errors(at)), _errors(at)
    assert [m.value for m in at.metric] == ["0", "0", "0"]
    # the good pair
    at.file_uploader(key="add_qualified").clear().upload(
        "qualified.zip", (env.fitting / "qualified.zip").read_bytes(), "application/zip"
    )
    at.button(key="add_data").click().run()
    _ok(at)
    assert any("added 9 qualified and 10 unqualified" in s for s in _successes(at))
    at.run()
    assert [m.value for m in at.metric] == ["9", "10", "19"]
    # fit twice with the given masks (versions 1 and 2), with metrics plotted
    _section(at, "Fit & metrics")
    at.text_input(key="fit_masks").input(str(env.fitting / "masks"))
    at.number_input(key="fit_cv").set_value(3)
    at.button(key="fit").click().run()
    _ok(at)
    assert any("fitted version 1 on 19 images" in s for s in _successes(at))
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 4  # confusion, importance, ROC, distributions
    at.button(key="fit").click().run()
    _ok(at)
    assert any("fitted version 2" in s for s in _successes(at))
    # test on a labelled zip
    _section(at, "Test")
    at.file_uploader(key="test_zip").upload(
        "test.zip", env.test_zip.read_bytes(), "application/zip"
    )
    at.file_uploader(key="test_labels").upload("labels.csv", env.test_labels, "text/csv")
    at.text_input(key="test_masks").input(str(env.test_masks))
    at.button(key="test_run").click().run()
    _ok(at)
    table = at.dataframe[0].value
    assert len(table) == 6
    assert set(table["label"]) == {"Qualified", "Unqualified", "No Mine Detected"}
    assert at.metric[0].label == "Test accuracy"
    gallery = [c for img in at.get("image") for c in img.captions]  # type: ignore[attr-defined]
    assert len(gallery) == 6
    if "✗" in "".join(gallery):  # mistakes first
        assert "✗" in gallery[0]
    # deploy version 2, roll back to 1 (reloaded on the server), undeploy
    _section(at, "Versions & deploy")
    at.button(key="deploy").click().run()
    _ok(at)
    assert any(f"deployed {NAME} (version 2)" in s for s in _successes(at))
    assert _model_ready(env, f"integrator_{NAME}")
    assert _model_ready(env, f"scorer_{NAME}", "2")
    assert any("/quality_detector/handle_image_post/" in c.value for c in at.code)
    # the token is shown once; only its hash is kept, and published in the repository
    first = _shown_token(at)
    published = (env.triton.repository / TOKENS_FILE).read_text()  # type: ignore[attr-defined]
    assert token_sha256(first) in published and first not in published
    at.button(key="rotate_token").click().run()
    _ok(at)
    rotated = _shown_token(at)
    published = (env.triton.repository / TOKENS_FILE).read_text()  # type: ignore[attr-defined]
    assert rotated != first and token_sha256(rotated) in published
    assert token_sha256(first) not in published
    at.run()
    assert not any("/quality_detector/handle_image_post/" in c.value for c in at.code)
    at.selectbox(key="rollback_version").set_value(1)
    at.button(key="rollback").click().run()
    _ok(at)
    assert any("serving version 1 (reloaded on the server)" in s for s in _successes(at))
    assert _model_ready(env, f"scorer_{NAME}", "1")
    at.run()
    at.button(key="undeploy").click().run()
    _ok(at)
    assert not _model_ready(env, f"integrator_{NAME}")
    actions = [e["action"] for e in Workspace(env.home).audit_entries(NAME)]
    for expected in ("create", "add-data", "fit", "deploy", "rollback", "undeploy"):
        assert expected in actions
    assert {e["actor"] for e in Workspace(env.home).audit_entries(NAME)} == {f"console:{ADMIN}"}


def test_segmentator_page_shows_status_and_refuses_soft_undeploy_in_use(
    app: AppTest, env: Env
) -> None:
    at = _page(_login(app), "Segmentator")
    status = at.dataframe[0].value
    ready = dict(zip(status["name"], status["state"], strict=True))
    assert ready["segmentator"] == "READY"
    assert set(status["device"]) >= {"cpu"}
    at.button(key="seg_soft").click().run()
    assert any("site_a" in e and "undeploy them first" in e for e in _errors(at)), _errors(at)
    at.text_input(key="seg_hard_password").input("wrong password!")
    at.button(key="seg_hard").click().run()
    assert any("wrong password" in e for e in _errors(at))
    assert _model_ready(env, "segmentator")


@pytest.mark.slow  # rebuilds and reloads the segmentator: 30-40 s on 2 cores
def test_segmentator_settings_apply_rebuilds_and_reloads(
    app: AppTest, env: Env, scene_jpegs: list[bytes]
) -> None:
    from loadcheck.client import InspectionClient
    from loadcheck.console.segmentator_admin import read_settings
    from loadcheck.serving.repository import read_manifest

    at = _page(_login(app), "Segmentator")
    before, _ = read_settings(env.triton.repository)  # type: ignore[attr-defined]
    at.number_input(key="seg_maxdet").set_value(before.detector.max_det + 1)
    at.button(key="seg_apply").click().run()
    _ok(at)
    after, _ = read_settings(env.triton.repository)  # type: ignore[attr-defined]
    assert after.detector.max_det == before.detector.max_det + 1
    assert _model_ready(env, "segmentator")
    # the deployed integrator's answers now name the new build (its scorer was reloaded too)
    build = read_manifest(env.triton.repository).build  # type: ignore[attr-defined]
    with InspectionClient(env.triton.http_url, timeout=60) as client:  # type: ignore[attr-defined]
        result = client.inspect(scene_jpegs[0], env.triton.integrator)  # type: ignore[attr-defined]
    assert build is not None and result.provenance is not None
    assert result.provenance.repository_build == build.id
    at.number_input(key="seg_maxdet").set_value(before.detector.max_det)
    at.button(key="seg_apply").click().run()
    _ok(at)


def test_segment_images_gallery_and_upload_limit(app: AppTest, env: Env) -> None:
    at = _page(_login(app), "Segment images")
    at.file_uploader(key="segment_zip").upload(
        "test.zip", env.test_zip.read_bytes(), "application/zip"
    )
    at.button(key="segment_run").click().run()
    assert any("at most 3 per upload" in e for e in _errors(at)), _errors(at)
    small = io.BytesIO()
    with zipfile.ZipFile(env.test_zip) as src, zipfile.ZipFile(small, "w") as dst:
        for name in src.namelist()[:2]:
            dst.writestr(name, src.read(name))
    at.file_uploader(key="segment_zip").clear().upload(
        "small.zip", small.getvalue(), "application/zip"
    )
    at.button(key="segment_run").click().run()
    _ok(at)
    assert any("2 images segmented, 0 failed" in s for s in _successes(at))
    captions = [c for img in at.get("image") for c in img.captions]  # type: ignore[attr-defined]
    assert len(captions) == 2 and all("detections" in c for c in captions), captions
    assert at.get("download_button")
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("photos/a.jpg", b"x")
    at.file_uploader(key="segment_zip").clear().upload(
        "nested.zip", nested.getvalue(), "application/zip"
    )
    at.button(key="segment_run").click().run()
    assert any("not at the archive root" in e for e in _errors(at)), _errors(at)


def test_audit_log_page_lists_logins_and_logout_ends_the_session(app: AppTest) -> None:
    at = _page(_login(app), "Audit log")
    table = at.dataframe[0].value
    assert "login" in set(table["action"])
    at.sidebar.button(key="logout").click().run()
    assert len(at.sidebar.radio) == 0
    assert at.text_input(key="login_password") is not None


def test_segment_upload_keeps_going_past_an_image_the_server_refuses(env: Env) -> None:
    import cv2

    from loadcheck.console.config import ConsoleConfig
    from loadcheck.console.operations import served_segmentator
    from loadcheck.console.segmentation import segment_upload
    from loadcheck.integrators.ingest import ArchiveImage

    t = env.triton
    config = ConsoleConfig(
        env.home,
        t.repository,  # type: ignore[attr-defined]
        t.http_url,  # type: ignore[attr-defined]
        t.api_key,  # type: ignore[attr-defined]
    )
    data = (env.fitting / "images" / "s3_000000.jpg").read_bytes()
    height, width = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    good = ArchiveImage("good.jpg", data, "jpg", "0" * 64, width, height)
    bad = ArchiveImage("bad.jpg", b"\xff\xd8\xff broken", "jpg", "1" * 64, 1, 1)
    with served_segmentator(config) as segmentator:
        assert segmentator.config_key.startswith("segmentator:")
        first, second = segment_upload(segmentator, [bad, good])
    assert first.error and first.detections is None
    assert second.error is None and second.masks is not None
    assert second.masks.mask_hw.shape[1:] == (height, width)


def test_fit_from_the_console_with_the_served_segmentator(app: AppTest, env: Env) -> None:
    from loadcheck.integrators.store import IntegratorStore

    store = IntegratorStore(env.home, env.triton.repository)  # type: ignore[attr-defined]
    store.create("served_masks")
    store.add_data("served_masks", env.fitting / "qualified.zip", env.fitting / "unqualified.zip")
    at = _login(app)
    at.selectbox(key="integrator").set_value("served_masks").run()
    _section(at, "Fit & metrics")
    at.number_input(key="fit_cv").set_value(0)
    at.button(key="fit").click().run()
    _ok(at)
    assert any("fitted version 1 on 19 images" in s for s in _successes(at))
    assert store.get("served_masks").served_version == 1
    key = json.loads((store.model_dir("served_masks") / "1" / "scorer.json").read_text())[
        "mask_source"
    ]
    assert key.startswith("segmentator:")
