"""Run ``loadcheck integrator ...`` as a subprocess against a temporary workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def run_cli(
    home: Path, repo: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LOADCHECK_HOME": str(home),
        "LOADCHECK_REPOSITORY": str(repo),
        "LOADCHECK_USER": "tester",
    }
    proc = subprocess.run(
        [sys.executable, "-c", "from loadcheck.cli import main; main()", "integrator", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"loadcheck integrator {' '.join(args)} failed: {proc.stderr}")
    return proc


def run_json(home: Path, repo: Path, *args: str) -> Any:
    return json.loads(run_cli(home, repo, *args).stdout)


def small_dataset(root: Path, n_per_class: int = 5) -> tuple[Path, Path, Path]:
    """qualified.zip / unqualified.zip of noise JPEGs and masks: full vs half-full beds."""
    masks = root / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for label, fill in (("qualified", 1.0), ("unqualified", 0.45)):
        path = root / f"{label}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for i in range(n_per_class):
                stem = f"{label}_{i}"
                img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
                zf.writestr(f"{stem}.jpg", cv2.imencode(".jpg", img)[1].tobytes())
                bed = np.zeros((64, 96), np.uint8)
                bed[30:60, 10:86] = 255
                load = np.zeros_like(bed)
                load[60 - round(30 * (fill - 0.05 * (i % 2))) : 60, 10:86] = 255
                cv2.imwrite(str(masks / f"{stem}_bed.png"), bed)
                cv2.imwrite(str(masks / f"{stem}_load.png"), load)
        out[label] = path
    return out["qualified"], out["unqualified"], masks
