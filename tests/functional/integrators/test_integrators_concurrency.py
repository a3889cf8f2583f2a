"""Two processes writing one workspace at once cannot corrupt it."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

from integrator_cli import small_dataset

from loadcheck.integrators.fitting import fit, list_versions
from loadcheck.integrators.store import IntegratorStore


def _writer(home: str, repo: str, name: str, q: str, u: str, masks: str, rounds: int) -> None:
    store = IntegratorStore(home, repo)
    for i in range(rounds):
        store.update(name, threshold=0.4 + 0.01 * i)
        store.add_data(name, q, u)
        fit(store, name, masks_dir=masks, cv_folds=0)
        store.create(f"{name}-{i}")


def test_two_processes_fitting_and_writing_at_once_keep_the_workspace_consistent(tmp_path):
    home, repo = tmp_path / "ws", tmp_path / "repo"
    q, u, masks = small_dataset(tmp_path, 3)
    store = IntegratorStore(home, repo)
    store.create("shared")
    store.update("shared", params={"n_estimators": 10})
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_writer, args=(str(home), str(repo), "shared", str(q), str(u), str(masks), 3)
        )
        for _ in range(2)
    ]
    # distinct integrator names per process for the create step
    procs[1] = ctx.Process(
        target=_second_writer, args=(str(home), str(repo), str(q), str(u), str(masks))
    )
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
        assert p.exitcode == 0
    with sqlite3.connect(home / "loadcheck.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    versions = [v["version"] for v in list_versions(store, "shared")]
    assert versions == list(range(1, 7))  # 2 processes x 3 fits, no number used twice
    on_disk = sorted(int(p.name) for p in store.model_dir("shared").iterdir())
    assert on_disk == versions
    assert store.get("shared").served_version in versions
    assert store.sample_counts("shared") == {"qualified": 3, "unqualified": 3}
    names = {r["name"] for r in store.list_all()}
    assert {"shared", "shared-0", "shared-1", "shared-2", "other-0", "other-1", "other-2"} <= names
    fits = [e for e in store.ws.audit_entries("shared") if e["action"] == "fit"]
    assert len(fits) == 6


def _second_writer(home: str, repo: str, q: str, u: str, masks: str) -> None:
    store = IntegratorStore(home, repo)
    for i in range(3):
        store.add_data("shared", q, u)
        fit(store, "shared", masks_dir=masks, cv_folds=0)
        store.create(f"other-{i}")
        store.clear_data(f"other-{i}")
    assert Path(home).is_dir()
