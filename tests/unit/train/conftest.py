"""A few synthetic scenes rendered small, shared by the training tests (written once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 scenes of seed 3 at 192x108, with at least one loaded truck among them."""
    from loadcheck.synth import write_dataset

    root = tmp_path_factory.mktemp("synth") / "data"
    write_dataset(root, count=6, seed=3, size_wh=(192, 108), progress=False)
    labels = json.loads((root / "labels.json").read_text())
    assert any(record["boxes"]["load"] for record in labels["images"])
    return root
