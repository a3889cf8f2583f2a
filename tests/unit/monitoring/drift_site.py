"""A workspace whose integrator serves a score model fitted on classic synthetic scenes (with its
drift reference), and a records store holding verdict records whose features come from the TRUE
masks of classic scenes (camera ``lane1``) or of scenes of another style (``lane2``: night).
No Triton: the features are computed as the scorer would from perfect masks.

Imported by the drift tests of ``tests/unit/monitoring`` and ``tests/unit/console``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np

from loadcheck.features.extract import extract_features
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordStore
from loadcheck.scoring.fit import fit_score_model
from loadcheck.synth.styles import render_styled
from loadcheck.workspace.db import now_iso

SITE = "north_pit"
SAME, OTHER = "lane1", "lane2"
OTHER_STYLE = "night"
SIZE_WH = (320, 180)
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@cache
def style_features(seed: int, scenes: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, F]`` and labels ``[N]`` of every loaded truck of ``scenes`` scenes."""
    xs, ys = [], []
    for index in range(scenes):
        for truck in render_styled(seed, index, SIZE_WH, style).trucks:
            if truck.has_load:
                xs.append(extract_features(truck.to_truck_masks()).values)
                ys.append(1 if truck.label == Verdict.QUALIFIED else 0)
    return np.stack(xs), np.asarray(ys)


@dataclass(frozen=True)
class DriftSite:
    home: Path
    repository: Path
    n_same: int
    n_other: int


def fit_served_version(home: Path, repository: Path, name: str = SITE) -> IntegratorStore:
    """Create ``name`` and make a fit on 150 classic scenes (seed 0) its served version 1."""
    store = IntegratorStore(home, repository)
    store.create(name)
    x, y = style_features(0, 150, "classic")
    result = fit_score_model(x, y, cv_folds=0, integrator=name, params={"n_estimators": 10})
    target = store.model_dir(name) / "1"
    target.mkdir(parents=True)
    result.model.save(target)
    with store.ws.transaction() as conn:
        conn.execute(
            "INSERT INTO versions (integrator, version, path, model_type, n_samples, "
            "n_corrections, metrics_json, created_at) VALUES (?, 1, ?, 'xgboost', ?, 0, 'null', ?)",
            (name, str(target), len(y), now_iso()),
        )
        conn.execute("UPDATE integrators SET served_version = 1 WHERE name = ?", (name,))
    return store


def drop_reference(store: IntegratorStore, name: str = SITE) -> None:
    """Make the served version look like a fit made before drift references existed."""
    path = store.model_dir(name) / "1" / "scorer.json"
    meta = json.loads(path.read_text())
    del meta["drift_reference"]
    path.write_text(json.dumps(meta))


def add_records(records: RecordStore, camera: str, x: np.ndarray, start: datetime) -> None:
    for i, values in enumerate(x):
        records.add(
            InspectionRecord(
                at=start + timedelta(minutes=i),
                integrator=SITE,
                verdict=Verdict.QUALIFIED,
                probability=0.9,
                threshold=0.5,
                camera=camera,
                feature_spec_version=FEATURE_SPEC.version,
                features=dict(zip(FEATURE_SPEC.names, map(float, values), strict=True)),
                provenance=Provenance(scorer_version=1, recorded_by="test"),
            )
        )


def make_site(root: Path, *, other: bool = True) -> DriftSite:
    """Served version 1 fitted on classic scenes; records of classic scenes (seed 1) on
    ``lane1`` and, with ``other``, of night scenes (seed 1) on ``lane2``."""
    home, repo = root / "ws", root / "repo"
    fit_served_version(home, repo)
    same, _ = style_features(1, 80, "classic")
    shifted, _ = style_features(1, 80, OTHER_STYLE)
    with RecordStore(home=home) as records:
        add_records(records, SAME, same, T0)
        if other:
            add_records(records, OTHER, shifted, T0 + timedelta(hours=1))
    return DriftSite(home, repo, len(same), len(shifted) if other else 0)
