"""What an interrupted fit leaves in ``scorer_<name>/``, found and put right under the lock.

A fit writes version ``N`` into ``.N.<random>.tmp`` (:func:`loadcheck.atomic.atomic_write_dir`),
renames it to ``N`` and then records ``N`` in the workspace database. A fit killed with
``kill -9`` (or a power cut) between those steps leaves:

* a temp folder ``.N.<random>.tmp`` (killed while writing): **removed**;
* a version folder ``N`` without a database row (killed after the rename): **adopted** (the row
  is written from its ``scorer.json``; it is not made the served version) when it loads as a
  score model of this integrator, else **removed**;
* a folder ``.N.deleted.<pid>`` (a removal killed half-way): **removed**.

Versions recorded in the database whose folder is gone are reported (``missing``), never
invented or dropped. :func:`recover_versions` runs at the start of every fit's locked section
and from ``loadcheck integrator doctor NAME``; so the next version number follows the last one
on disk or in the database, and never skips silently.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadcheck.atomic import remove_dir_atomically
from loadcheck.integrators.store import IntegratorStore
from loadcheck.scoring.model import ScoreModel, ScoreModelError

LOG = logging.getLogger(__name__)

#: ``.N.<random>.tmp``: a version folder being written (atomic_write_dir's temp folder).
_TEMP = re.compile(r"^\.(\d+)\..+\.tmp$")
#: ``.N.deleted.<pid>``: a version folder being removed (remove_dir_atomically).
_DELETED = re.compile(r"^\.(\d+)\.deleted\.\d+$")


@dataclass
class RecoveryReport:
    """What :func:`recover_versions` found in ``scorer_<name>/`` (and did, unless a dry run).

    Attributes:
        integrator: the integrator's name.
        removed: leftover folders removed (or to remove), with why, as ``(folder, reason)``.
        adopted: version numbers whose folder was complete and got its database row.
        missing: versions recorded in the database whose folder is not on disk.
        dry_run: nothing was changed.
    """

    integrator: str
    removed: list[tuple[str, str]] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """Something was (or, in a dry run, would be) removed or adopted."""
        return bool(self.removed or self.adopted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "integrator": self.integrator,
            "removed": [{"folder": f, "reason": r} for f, r in self.removed],
            "adopted": self.adopted,
            "missing": self.missing,
            "dry_run": self.dry_run,
        }


def _adoptable(folder: Path, name: str) -> tuple[ScoreModel | None, str]:
    """The score model in ``folder`` when it is a complete version of ``name``, else why not."""
    try:
        model = ScoreModel.load(folder)
    except ScoreModelError as exc:
        return None, str(exc)
    owner = model.metadata.get("integrator", name)
    if owner != name:
        return None, f"scorer.json names integrator {owner!r}, not {name!r}"
    return model, ""


def _created_at(model: ScoreModel, folder: Path) -> str:
    created = model.metadata.get("created")
    if isinstance(created, str) and created:
        return created
    return datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(timespec="seconds")


def recover_versions(store: IntegratorStore, name: str, *, dry_run: bool = False) -> RecoveryReport:
    """Remove an interrupted fit's leftovers and adopt its complete versions (see module doc).

    The caller holds ``store.ws.lock_path(name)`` (every writer of ``scorer_<name>/`` versions
    does), so any temp folder found here belongs to a process that died.

    Raises:
        NotFoundError: no integrator ``name`` in the workspace.
    """
    store.get(name)
    report = RecoveryReport(name, dry_run=dry_run)
    model_dir = store.model_dir(name)
    with store.ws.reader() as conn:
        recorded = {
            int(r["version"]): str(r["path"])
            for r in conn.execute(
                "SELECT version, path FROM versions WHERE integrator = ?", (name,)
            )
        }
    entries = sorted(model_dir.iterdir()) if model_dir.is_dir() else []
    for entry in entries:
        if not entry.is_dir() or entry.is_symlink():
            continue
        if _TEMP.match(entry.name):
            reason = "temp folder of a fit that was interrupted while writing"
        elif _DELETED.match(entry.name):
            reason = "folder of a removal that was interrupted"
        elif entry.name.isdigit() and int(entry.name) not in recorded:
            model, why = _adoptable(entry, name)
            if model is not None:
                if not dry_run:
                    _adopt(store, name, int(entry.name), entry, model)
                report.adopted.append(int(entry.name))
                continue
            reason = f"version folder with no database row that is not a complete version: {why}"
        else:
            continue
        report.removed.append((entry.name, reason))
        if not dry_run:  # a hidden folder removed half-way keeps its name: removed next time
            if entry.name.isdigit():
                remove_dir_atomically(entry)
            else:
                shutil.rmtree(entry, ignore_errors=True)
    on_disk = {int(p.name) for p in entries if p.name.isdigit() and p.is_dir()}
    report.missing = sorted(v for v in recorded if v not in on_disk)
    for folder, reason in report.removed:
        LOG.warning("%s: %s %s/%s (%s)", name, _verb(dry_run, "removed"), model_dir, folder, reason)
    for version in report.adopted:
        LOG.warning(
            "%s: %s version %d (complete on disk, no database row: a fit was interrupted after "
            "writing it; it is not the served version)",
            name,
            _verb(dry_run, "adopted"),
            version,
        )
    for version in report.missing:
        LOG.warning("%s: version %d is recorded but %s is gone", name, version, recorded[version])
    return report


def _verb(dry_run: bool, done: str) -> str:
    return f"would have {done}" if dry_run else done


def _adopt(
    store: IntegratorStore, name: str, version: int, folder: Path, model: ScoreModel
) -> None:
    cv = model.metadata.get("cv_metrics")
    with store.ws.transaction() as conn:
        conn.execute(
            "INSERT INTO versions (integrator, version, path, model_type, n_samples, "
            "n_corrections, metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                version,
                str(store.model_dir(name) / str(version)),
                model.model_type,
                int(model.metadata.get("n_samples", 0)),
                int(model.metadata.get("n_corrections", 0)),
                json.dumps(cv),
                _created_at(model, folder),
            ),
        )
        store.ws.audit(conn, "adopt-version", name, version=version)
