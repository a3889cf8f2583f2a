"""Helpers of the functional serving tests (importable as ``serving_helpers`` from this folder).

* :class:`Worker` / :func:`join_workers`: threads whose failures reach the test. A worker that
  died re-raises its exception (with its traceback) in the test's thread; a worker still running
  after the join fails the test instead of being forgotten.
* :func:`build_repository_for_test`: a test's own model repository from the tiny models, with a
  detector confidence threshold of its choice.
* :func:`fit_version`: a fitted scorer version with a threshold of the test's choice. The tiny
  detector has random weights and never finds a loaded truck, so every photo's verdict is
  "No Mine Detected" with probability 0; the served ``THRESHOLD`` is what tells versions apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest


class Worker(threading.Thread):
    """A daemon thread running ``target(*args)`` that keeps the exception it died of."""

    def __init__(self, target: Callable[..., Any], *args: Any, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self._work_args = args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work(*self._work_args)
        except BaseException as exc:  # handed to the test's thread by join_workers
            self.error = exc


def join_workers(workers: Sequence[Worker], timeout_s: float) -> None:
    """Join every worker within ``timeout_s`` in all; fail if one still runs, re-raise the
    exception of the first one that died."""
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    alive = [w.name for w in workers if w.is_alive()]
    if alive:
        pytest.fail(f"workers still running {timeout_s:.0f} s after they were joined: {alive}")
    for worker in workers:
        if worker.error is not None:
            raise worker.error


def build_repository_for_test(
    models: Path, repository: Path, *, conf_thres: float = 0.3, max_det: int = 8
) -> None:
    """``loadcheck repository build`` of ``models`` into ``repository`` (CPU, ONNX Runtime)."""
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.serving.repository import RepositorySettings, build_repository

    settings = RepositorySettings(
        detector=DetectorSettings(conf_thres, 0.45, max_det), queue_delay_us=500
    )
    build_repository(models, repository, settings)


def fit_version(
    fit_integrator: Callable[..., Path],
    repository: Path,
    name: str,
    version: int,
    threshold: float,
) -> Path:
    """Fit ``scorer_<name>/<version>`` (the ``fit_integrator`` fixture) with ``threshold``."""
    from loadcheck.scoring.model import ScoreModel

    folder = fit_integrator(repository, name, version=version, seed=version)
    model = ScoreModel.load(folder)
    model.threshold = threshold
    model.save(folder)
    return folder


def fit_test_integrator(repository: Path, name: str, version: int = 1, seed: int = 0) -> Path:
    """Fit XGBoost on synthetic scenes' true masks into ``<repository>/scorer_<name>/<version>``."""
    from loadcheck.features.extract import extract_features
    from loadcheck.payloads import Verdict
    from loadcheck.scoring.fit import fit_score_model
    from loadcheck.synth import render_scene

    xs, ys = [], []
    for index in range(40):
        scene = render_scene(seed, index, size_wh=(320, 180))
        for truck in scene.trucks:
            if truck.has_load:
                xs.append(extract_features(truck.to_truck_masks()).values)
                ys.append(1 if truck.label == Verdict.QUALIFIED else 0)
    result = fit_score_model(np.stack(xs), np.array(ys), cv_folds=0, integrator=name)
    out = repository / f"scorer_{name}" / str(version)
    out.mkdir(parents=True, exist_ok=True)
    result.model.save(out)
    return out


def segment_served(http_url: str, jpeg: bytes) -> Any:
    """One photo through the served segmentator ensemble over HTTP (the InferResult)."""
    import tritonclient.http as httpclient

    from loadcheck import tensor_names as tn

    client = httpclient.InferenceServerClient(http_url)
    try:
        inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        inp.set_data_from_numpy(np.array([jpeg], np.object_))
        return client.infer(tn.SEGMENTATOR_ENSEMBLE, [inp])
    finally:
        client.close()
