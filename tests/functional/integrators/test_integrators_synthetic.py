"""Acceptance: an integrator fitted on synthetic scenes with their true masks.

400 scenes of one seed -> 5-fold CV accuracy >= 0.97; 250 scenes of another seed, scored
through ``predict`` with their true masks -> accuracy >= 0.95 (all three verdicts).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadcheck.integrators.fitting import fit, predict
from loadcheck.integrators.store import IntegratorStore

FIT_SEED, HELD_OUT_SEED = 1, 2
SIZE_WH = (480, 270)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> tuple[Path, Path]:
    synth = pytest.importorskip("loadcheck.synth.dataset")
    root = tmp_path_factory.mktemp("synth")
    synth.write_dataset(root / "fit", 400, FIT_SEED, SIZE_WH, progress=False)
    synth.write_dataset(root / "held_out", 250, HELD_OUT_SEED, SIZE_WH, progress=False)
    return root / "fit", root / "held_out"


def test_an_integrator_fitted_on_true_masks_reaches_the_accuracy_targets(scenes, tmp_path):
    fit_dir, held_dir = scenes
    store = IntegratorStore(tmp_path / "ws", tmp_path / "repo")
    store.create("synthetic")
    store.add_data("synthetic", fit_dir / "qualified.zip", fit_dir / "unqualified.zip")
    summary = fit(store, "synthetic", masks_dir=fit_dir / "masks", cv_folds=5)
    assert summary["cv"]["folds"] == 5
    assert summary["n_samples"] >= 300
    assert summary["cv_accuracy"] >= 0.97, summary["cv"]

    records = json.loads((held_dir / "labels.json").read_text())["images"]
    images = [held_dir / r["file"] for r in records]
    results = predict(store, "synthetic", images, masks_dir=held_dir / "masks")
    correct = [r["score_result"] == rec["label"] for r, rec in zip(results, records, strict=True)]
    accuracy = sum(correct) / len(correct)
    assert len(correct) == 250
    assert accuracy >= 0.95, accuracy
