"""Fit (new numbered version), list versions, roll back, predict.

Artifacts go to ``<repository>/scorer_<name>/<version>/`` (``model.ubj`` + ``scorer.json``),
written into a temp folder in the same parent, fsynced and renamed. The served version is
recorded in the workspace database; a failed fit leaves it untouched. A fit killed half-way is
put right by the next one (:mod:`loadcheck.integrators.recovery`, under the same lock).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.atomic import atomic_write_dir, file_lock
from loadcheck.features.extract import extract_features
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.features.trucks import SCORED_TRUCK_RULE, empty_truck, scored_truck
from loadcheck.imageio import sha256_bytes
from loadcheck.integrators.errors import IntegratorError, NotFoundError
from loadcheck.integrators.ingest import check_image
from loadcheck.integrators.mask_sources import NO_MASK_SOURCE_MESSAGE, MaskFolder, MaskSource
from loadcheck.integrators.recovery import recover_versions
from loadcheck.integrators.store import IntegratorStore
from loadcheck.scoring.fit import MIN_PER_CLASS, FitError, fit_score_model
from loadcheck.scoring.model import ScoreModel
from loadcheck.scoring.verdict import score_trucks
from loadcheck.workspace.db import now_iso

LOG = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


def _features_for(
    mask_source: MaskSource, data: bytes, name: str, size_wh: tuple[int, int]
) -> tuple[int, np.ndarray]:
    trucks = mask_source.segment(data)
    if trucks and trucks[0].resolution_wh != size_wh:
        got = trucks[0].resolution_wh
        raise IntegratorError(
            f"masks of {name} are {got[0]}x{got[1]} but the image is {size_wh[0]}x{size_wh[1]}"
        )
    truck = scored_truck(trucks) or empty_truck(*size_wh)  # the truck serving scores
    return len(trucks), extract_features(truck).values


def _cache_key(config_key: str) -> str:
    """Feature-cache key: the mask source's key and the rule that picks the scored truck."""
    return f"{config_key};{SCORED_TRUCK_RULE}"


def cached_features(store: IntegratorStore, config_key: str) -> dict[str, list[float]]:
    """Image sha256 -> cached feature values of the current spec for mask source ``config_key``."""
    with store.ws.reader() as conn:
        return {
            r["sha256"]: json.loads(r["values_json"])
            for r in conn.execute(
                "SELECT sha256, values_json FROM feature_cache WHERE config_key = ? AND "
                "spec_version = ?",
                (_cache_key(config_key), FEATURE_SPEC.version),
            )
        }


def sample_features(
    store: IntegratorStore,
    name: str,
    mask_source: MaskSource,
    progress: Progress | None = None,
    rows: Sequence[sqlite3.Row] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """float32 ``[N, F]`` features and int ``[N]`` labels of all samples (or of ``rows`` of
    :meth:`IntegratorStore.samples`); cache hits count."""
    rows = store.samples(name) if rows is None else rows
    cached = cached_features(store, mask_source.config_key)
    key = _cache_key(mask_source.config_key)
    x = np.zeros((len(rows), len(FEATURE_SPEC)), np.float32)
    y = np.array([int(r["label"]) for r in rows], np.int64)
    new: list[tuple[str, int, list[float]]] = []
    for i, row in enumerate(rows):
        if row["sha256"] in cached:
            x[i] = cached[row["sha256"]]
        else:
            data = store.images.get(row["sha256"], row["ext"])
            n_trucks, values = _features_for(
                mask_source, data, row["original_name"], (int(row["width"]), int(row["height"]))
            )
            x[i] = values
            new.append((row["sha256"], n_trucks, [float(v) for v in values]))
        if progress:
            progress(i + 1, len(rows))
    if new:
        stamp = now_iso()
        with store.ws.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO feature_cache (sha256, config_key, spec_version, "
                "n_trucks, values_json, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(sha, key, FEATURE_SPEC.version, n, json.dumps(v), stamp) for sha, n, v in new],
            )
    return x, y, len(rows) - len(new)


def _next_version(store: IntegratorStore, name: str) -> int:
    with store.ws.reader() as conn:
        row = conn.execute(
            "SELECT MAX(version) FROM versions WHERE integrator = ?", (name,)
        ).fetchone()
    in_db = int(row[0] or 0)
    model_dir = store.model_dir(name)
    on_disk = (
        [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()] if model_dir.is_dir() else []
    )
    return max([in_db, *on_disk]) + 1


def fit(
    store: IntegratorStore,
    name: str,
    *,
    masks_dir: Path | str | None = None,
    mask_source: MaskSource | None = None,
    cv_folds: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit a new version of ``name``, write it to the repository and make it the served one.

    Returns a JSON-ready summary with ``version``, ``cv_accuracy``, the CV metrics and
    ``n_corrections``: how many of the ``n_samples`` fitting images came from operators'
    corrections of inspection records (stored with the version).
    """
    cfg = store.get(name)
    counts = store.sample_counts(name)
    if min(counts.values()) < MIN_PER_CLASS:
        raise FitError(
            f"integrator {name!r} has {counts['qualified']} qualified and "
            f"{counts['unqualified']} unqualified images; fitting needs at least {MIN_PER_CLASS} "
            "of each (loadcheck integrator add-data NAME --qualified Q.zip --unqualified U.zip)"
        )
    if mask_source is None and masks_dir is not None:
        stems = {r["sha256"]: Path(r["original_name"]).stem for r in store.samples(name)}
        masks = MaskFolder(masks_dir, stems)
        missing = masks.missing()
        if missing:
            raise IntegratorError(
                f"--masks {masks_dir}: no <stem>_bed.png / <stem>_load.png for {len(missing)} "
                f"images: {', '.join(missing[:10])}"
            )
        mask_source = masks
    if mask_source is None:
        raise IntegratorError(NO_MASK_SOURCE_MESSAGE)
    rows = store.samples(name)
    n_corrections = sum(1 for r in rows if r["correction_record_id"] is not None)
    x, y, hits = sample_features(store, name, mask_source, progress, rows)
    result = fit_score_model(
        x,
        y,
        model_type=cfg.model_type,
        params=cfg.params,
        feature_settings=cfg.features,
        threshold=cfg.threshold,
        cv_folds=cv_folds,
        integrator=name,
        review=cfg.review,
    )
    with file_lock(store.ws.lock_path(name)):
        store.get(name)  # still there?
        # an earlier fit killed half-way: its leftovers go, its complete version gets its row
        recovered = recover_versions(store, name)
        version = _next_version(store, name)
        target = store.model_dir(name) / str(version)
        result.model.metadata.update(
            version=version,
            mask_source=mask_source.config_key,
            description=cfg.description,
            n_corrections=n_corrections,
        )
        atomic_write_dir(target, result.model.save)
        try:
            with store.ws.transaction() as conn:
                cv = result.cv.to_dict() if result.cv else None
                conn.execute(
                    "INSERT INTO versions (integrator, version, path, model_type, n_samples, "
                    "n_corrections, metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        version,
                        str(target),
                        cfg.model_type,
                        len(y),
                        n_corrections,
                        json.dumps(cv),
                        now_iso(),
                    ),
                )
                conn.execute(
                    "UPDATE integrators SET served_version = ? WHERE name = ?", (version, name)
                )
                store.ws.audit(
                    conn,
                    "fit",
                    name,
                    version=version,
                    cv_accuracy=cv["accuracy"] if cv else None,
                    n_corrections=n_corrections,
                )
        except BaseException:
            from loadcheck.atomic import remove_dir_atomically

            remove_dir_atomically(target)
            raise
    return {
        "integrator": name,
        "version": version,
        "cv_accuracy": result.cv.accuracy if result.cv else None,
        "cv": result.cv.to_dict() if result.cv else None,
        "model_type": cfg.model_type,
        "n_samples": len(y),
        "n_corrections": n_corrections,
        "features_cached": hits,
        "features_computed": len(y) - hits,
        "fit_seconds": round(result.fit_seconds, 4),
        "artifact": str(target),
        "recovered": recovered.to_dict() if recovered.changed else None,
    }


def list_versions(store: IntegratorStore, name: str) -> list[dict[str, Any]]:
    """Fitted versions, oldest first, with ``served`` marking the one Triton should serve."""
    cfg = store.get(name)
    with store.ws.reader() as conn:
        rows = conn.execute(
            "SELECT * FROM versions WHERE integrator = ? ORDER BY version", (name,)
        ).fetchall()
    return [
        {
            "version": r["version"],
            "created_at": r["created_at"],
            "model_type": r["model_type"],
            "n_samples": r["n_samples"],
            "n_corrections": r["n_corrections"],
            "cv": json.loads(r["metrics_json"]),
            "path": r["path"],
            "served": r["version"] == cfg.served_version,
        }
        for r in rows
    ]


def rollback(store: IntegratorStore, name: str, version: int) -> None:
    """Make an existing fitted ``version`` the served one."""
    with file_lock(store.ws.lock_path(name)), store.ws.transaction() as conn:
        store.get(name, conn)
        row = conn.execute(
            "SELECT path FROM versions WHERE integrator = ? AND version = ?", (name, version)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"integrator {name!r} has no version {version}; see "
                f"loadcheck integrator versions {name}"
            )
        if not Path(row["path"]).is_dir():
            raise IntegratorError(
                f"version {version} of {name!r} is missing on disk: {row['path']}"
            )
        conn.execute("UPDATE integrators SET served_version = ? WHERE name = ?", (version, name))
        store.ws.audit(conn, "rollback", name, version=version)


def served_model(store: IntegratorStore, name: str) -> ScoreModel:
    cfg = store.get(name)
    if cfg.served_version is None:
        raise IntegratorError(
            f"integrator {name!r} has no fitted version; run loadcheck integrator fit {name}"
        )
    return ScoreModel.load(store.model_dir(name) / str(cfg.served_version))


def predict(
    store: IntegratorStore,
    name: str,
    images: Sequence[Path | str],
    masks_dir: Path | str | None = None,
    mask_source: MaskSource | None = None,
) -> list[dict[str, Any]]:
    """JSON-ready verdicts (``InspectionResult.to_dict()`` plus ``image``) for image files."""
    model = served_model(store, name)
    blobs = []
    for path in images:
        p = Path(path)
        if not p.is_file():
            raise IntegratorError(f"no such image file {p}")
        data = p.read_bytes()
        check_image(data, str(p))
        blobs.append((p, data))
    if mask_source is None and masks_dir is not None:
        mask_source = MaskFolder(masks_dir, {sha256_bytes(d): p.stem for p, d in blobs})
    if mask_source is None:
        raise IntegratorError(NO_MASK_SOURCE_MESSAGE)
    out = []
    for p, data in blobs:
        result = score_trucks(mask_source.segment(data), model)
        out.append({"image": str(p), **result.to_dict()})
    return out
