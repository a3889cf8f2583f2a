"""A fit killed with SIGKILL at a chosen point: the next fit (or ``doctor``) puts it right."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from integrator_cli import run_json, small_dataset

from loadcheck.integrators.fitting import fit, list_versions
from loadcheck.integrators.store import IntegratorStore

#: Runs ``fit`` in a child that stops at ``POINT`` (writes MARKER, then sleeps to be killed):
#: ``in-temp-folder`` once the artifact is written into ``.N.*.tmp``; ``after-rename`` once
#: ``N/`` exists, before its database row is written.
CHILD = """
import sys, time
from pathlib import Path
import loadcheck.atomic as atomic
import loadcheck.integrators.fitting as fitting
from loadcheck.integrators.store import IntegratorStore

home, repo, masks, point, marker = sys.argv[1:]
real_write_dir = atomic.atomic_write_dir

def stop_here():
    Path(marker).write_text("stopped")
    time.sleep(600)

def write_dir(final, fill):
    if point == "in-temp-folder":
        def fill_then_stop(tmp):
            fill(tmp)
            stop_here()
        real_write_dir(final, fill_then_stop)
    else:
        real_write_dir(final, fill)
        stop_here()

fitting.atomic_write_dir = write_dir
fitting.fit(IntegratorStore(home, repo), "site", masks_dir=masks, cv_folds=0)
"""


def _fit_killed_at(point: str, tmp_path: Path, masks: Path) -> None:
    marker = tmp_path / f"stopped-{point}"
    args = [str(tmp_path / "ws"), str(tmp_path / "repo"), str(masks), point, str(marker)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"the fit ended before {point}: {child.stderr.read()!r}")
        assert time.monotonic() < deadline, f"the fit never reached {point}"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def store_with_data(tmp_path: Path) -> tuple[IntegratorStore, Path]:
    q, u, masks = small_dataset(tmp_path, 3)
    store = IntegratorStore(tmp_path / "ws", tmp_path / "repo")
    store.create("site")
    store.update("site", params={"n_estimators": 5})
    store.add_data("site", q, u)
    fit(store, "site", masks_dir=masks, cv_folds=0)  # version 1, served
    return store, masks


def test_a_fit_killed_while_writing_leaves_a_temp_folder_that_the_next_fit_removes(
    store_with_data, tmp_path
):
    store, masks = store_with_data
    _fit_killed_at("in-temp-folder", tmp_path, masks)
    leftovers = [p.name for p in store.model_dir("site").iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".2.")
    assert store.get("site").served_version == 1  # the served version was never touched

    summary = fit(store, "site", masks_dir=masks, cv_folds=0)

    assert summary["version"] == 2  # the interrupted number is reused: nothing skipped
    assert summary["recovered"]["removed"][0]["folder"] == leftovers[0]
    assert sorted(p.name for p in store.model_dir("site").iterdir()) == ["1", "2"]
    assert [v["version"] for v in list_versions(store, "site")] == [1, 2]


def test_a_fit_killed_after_the_rename_is_adopted_and_the_next_fit_takes_the_next_number(
    store_with_data, tmp_path
):
    store, masks = store_with_data
    _fit_killed_at("after-rename", tmp_path, masks)
    assert (store.model_dir("site") / "2").is_dir()
    assert [v["version"] for v in list_versions(store, "site")] == [1]  # no row for 2
    assert store.get("site").served_version == 1

    summary = fit(store, "site", masks_dir=masks, cv_folds=0)

    assert summary["version"] == 3
    assert summary["recovered"]["adopted"] == [2]
    versions = list_versions(store, "site")
    assert [(v["version"], v["served"]) for v in versions] == [(1, False), (2, False), (3, True)]
    assert versions[1]["n_samples"] == 6
    assert "adopt-version" in [e["action"] for e in store.ws.audit_entries("site")]


def test_doctor_reports_then_puts_right_what_a_killed_fit_left(store_with_data, tmp_path):
    store, masks = store_with_data
    _fit_killed_at("after-rename", tmp_path, masks)
    (store.model_dir("site") / "3").mkdir()  # a version folder with nothing in it
    home, repo = tmp_path / "ws", tmp_path / "repo"

    dry = run_json(home, repo, "doctor", "site", "--dry-run")
    assert (dry["adopted"], [r["folder"] for r in dry["removed"]]) == ([2], ["3"])
    assert sorted(p.name for p in store.model_dir("site").iterdir()) == ["1", "2", "3"]

    done = run_json(home, repo, "doctor", "site")
    assert (done["adopted"], len(done["removed"]), done["missing"]) == ([2], 1, [])
    assert "missing scorer.json" in done["removed"][0]["reason"]
    assert sorted(p.name for p in store.model_dir("site").iterdir()) == ["1", "2"]
    assert run_json(home, repo, "doctor", "site")["adopted"] == []  # nothing left to do
    run_json(home, repo, "rollback", "site", "2")  # an adopted version can be served
    assert store.get("site").served_version == 2
    assert fit(store, "site", masks_dir=masks, cv_folds=0)["version"] == 3
