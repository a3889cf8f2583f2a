"""End to end: ``loadcheck console`` as a subprocess, driven in headless Chromium (Playwright).

Logs in, opens every page, saves a screenshot per page under ``test-artifacts/`` and checks that
no page shows a Python traceback. Needs the Debian packages ``chromium`` and
``chromium-driver`` (skipped with the reason when they are missing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadcheck.console.auth import AdminStore
from loadcheck.workspace import Workspace

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.browser, pytest.mark.triton, pytest.mark.torch]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
ADMIN, PASSWORD = "site-engineer", "browser-test-password"
PAGES = ("Integrators", "Inspections", "Drift", "Segmentator", "Segment images", "Audit log")
NAME = "north_pit"


def _free_port() -> int:
    from loadcheck.serving.server import free_port

    return free_port()


def _workspace(home: Path, repository: Path, data: Path) -> None:
    """An admin and a fitted integrator, so the pages have something to show."""
    from loadcheck.integrators.fitting import fit
    from loadcheck.integrators.store import IntegratorStore
    from loadcheck.synth import write_dataset

    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    write_dataset(data, 40, 5, (320, 180), progress=False)
    store = IntegratorStore(home, repository)
    store.create(NAME, "north pit loading point")
    store.add_data(NAME, data / "qualified.zip", data / "unqualified.zip")
    fit(store, NAME, masks_dir=data / "masks", cv_folds=3)
    _records(home, data / "qualified.zip")


def _records(home: Path, photos_zip: Path) -> None:
    """Inspection records with photos over two days on two cameras (for the Inspections page)."""
    import zipfile
    from datetime import UTC, datetime, timedelta

    from loadcheck.payloads import Verdict
    from loadcheck.records import InspectionRecord, Provenance, RecordStore, TruckRecord

    with zipfile.ZipFile(photos_zip) as zf:
        photos = [zf.read(n) for n in zf.namelist()[:6]]
    verdicts = (Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    with RecordStore(home=home) as records:
        for i, photo in enumerate(photos):
            verdict = verdicts[i % 3]
            records.add(
                InspectionRecord(
                    at=start + timedelta(hours=5 * i),
                    integrator=NAME,
                    verdict=verdict,
                    probability=i / 5,
                    threshold=0.5,
                    camera=f"lane{1 + i % 2}",
                    feature_spec_version="lc-test",
                    features={"fullness": 0.5 + i / 20},
                    trucks=(TruckRecord((60.0, 60.0, 260.0, 160.0), verdict, i / 5),),
                    provenance=Provenance(scorer_version=1, recorded_by="test"),
                ),
                photo,
            )


@pytest.fixture(scope="module")
def console_url(triton: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium chromium-driver)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    root = tmp_path_factory.mktemp("console-browser")
    home = root / "ws"
    repository = Path(triton.repository)  # type: ignore[attr-defined]
    _workspace(home, repository, root / "data")
    port = _free_port()
    env = {
        **os.environ,
        "LOADCHECK_HOME": str(home),
        "LOADCHECK_REPOSITORY": str(repository),
        "LOADCHECK_TRITON_URL": triton.http_url,  # type: ignore[attr-defined]
        "LOADCHECK_API_KEY": triton.api_key,  # type: ignore[attr-defined]
    }
    loadcheck = shutil.which("loadcheck") or str(Path(sys.executable).with_name("loadcheck"))
    log = (root / "console.log").open("wb")
    proc = subprocess.Popen(
        [loadcheck, "console", "--port", str(port), "--address", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "loadcheck console did not start: " + (root / "console.log").read_text()
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _settle(page: object, heading: str) -> None:
    """Wait until the page shows ``heading`` and Streamlit has stopped running the script."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000
    )
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]


def _no_traceback(page: object, where: str) -> None:
    text = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Traceback (most recent call last)" not in text, f"{where} shows a traceback"
    assert page.locator('[data-testid="stException"]').count() == 0, where  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def test_console_pages_render_in_chromium_without_tracebacks(console_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(console_url)
            _settle(page, "loadcheck console")
            _shot(page, "login")
            page.get_by_role("textbox", name="Admin name").fill(ADMIN)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            _settle(page, "Integrators")
            sidebar = page.locator('[data-testid="stSidebar"]')
            assert ADMIN in sidebar.inner_text()
            for name in PAGES:
                sidebar.get_by_text(name, exact=True).click()
                _settle(page, name)
                _no_traceback(page, name)
                _shot(page, re.sub(r"\W+", "-", name.lower()))
            sidebar.get_by_text("Inspections", exact=True).click()
            _settle(page, "Inspections")
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=60_000)
            page.locator('[data-testid="stImage"]').nth(1).wait_for(timeout=60_000)  # overlay
            assert "this page failed" not in page.inner_text("body")
            _shot(page, "inspections")
            sidebar.get_by_text("Integrators", exact=True).click()
            _settle(page, "Integrators")
            page.get_by_text("Fit & metrics", exact=True).click()
            _settle(page, "Version 1 (xgboost)")
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
            _no_traceback(page, "Integrators › Fit & metrics")
            _shot(page, "integrators-metrics")
            sidebar.get_by_role("button", name="Log out").click()
            page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
        finally:
            browser.close()
