"""Fixtures of the evaluation tests: stand-in pipelines that answer the truth, the benchmark
scripts as modules, and (PyTorch) the tiny random models with a repository and an integrator."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from loadcheck.evaluation.served import Photo
from loadcheck.imageio import decode_image
from loadcheck.payloads import Detections, SegmentationMasks
from loadcheck.pipeline.prompts import DetectorSettings, SamFrame

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


class TruthPipeline:
    """Stands in for the served segmentator on rendered scenes (``loadcheck.synth`` scenes, in
    the order the evaluation serves them): the detector answers each scene's true boxes (beds,
    then loads, confidence 0.9) and "SAM" answers, for each prompt box, the true mask of that
    box (``answer="truth"``) or the box filled as a rectangle (``answer="boxes"``)."""

    detector = DetectorSettings()
    sam_side = 64

    def __init__(self, scenes: Sequence[Any], answer: str = "truth") -> None:
        self.scenes = list(scenes)
        self.answer = answer
        self.served = 0
        self.frames: list[SamFrame | None] = []

    def card_facts(self) -> dict[str, dict[str, Any]]:
        return {}

    def photo(self, jpeg: bytes) -> Photo:
        photo = Photo(decode_image(jpeg), {"scene": np.array(self.served)})
        self.served += 1
        return photo

    def _scene(self, photo: Photo) -> Any:
        return self.scenes[int(photo.tensors["scene"])]

    def detect(
        self, photo: Photo, conf_thres: float | None = None, max_det: int | None = None
    ) -> Detections:
        trucks = self._scene(photo).trucks
        beds = [t.bed_xyxy for t in trucks]
        loads = [t.load_xyxy for t in trucks if t.load_xyxy is not None]
        xyxy = np.array(beds + loads, np.float32).reshape(-1, 4)
        class_id = np.repeat([0, 1], [len(beds), len(loads)]).astype(np.int32)
        return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), class_id)

    def segment(
        self, photo: Photo, prompts: Detections, frame: SamFrame | None = None
    ) -> SegmentationMasks:
        self.frames.append(frame)
        h, w = photo.rgb.shape[:2]
        masks = np.zeros((len(prompts), h, w), bool)
        by_box = {}
        for t in self._scene(photo).trucks:
            by_box[tuple(np.float32(t.bed_xyxy))] = t.bed_mask
            if t.load_xyxy is not None:
                by_box[tuple(np.float32(t.load_xyxy))] = t.load_mask
        for k, box in enumerate(prompts.xyxy.astype(np.float32)):
            if self.answer == "truth":
                masks[k] = by_box[tuple(box)]
            else:
                x1, y1, x2, y2 = np.round(box).astype(int)
                masks[k, y1:y2, x1:x2] = True
        return SegmentationMasks(masks, np.ones(len(prompts), np.float32))


@pytest.fixture
def truth_pipeline() -> Callable[..., TruthPipeline]:
    """``truth_pipeline(scenes, answer="truth")`` -> a :class:`TruthPipeline`."""
    return TruthPipeline


def _load(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as ``benchmark_<name>`` (registered in ``sys.modules``,
    where dataclasses look their module up)."""
    key = f"benchmark_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def benchmark() -> Callable[[str], ModuleType]:
    """``benchmark("eval_demo_models")`` -> the script's module (its ``main(argv)``)."""
    return _load


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight networks, exported once (ONNX + cards + checkpoints)."""
    pytest.importorskip("torch")
    from loadcheck.export.tiny import export_tiny_models

    out = tmp_path_factory.mktemp("tiny_models")
    export_tiny_models(out)
    return out


@pytest.fixture(scope="session")
def tiny_repository(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository built from :func:`tiny_models` with integrator ``site_a`` (a score model
    fitted on random features) written into it."""
    from loadcheck import tensor_names as tn
    from loadcheck.features.spec import FEATURE_SPEC
    from loadcheck.scoring.fit import fit_score_model
    from loadcheck.serving.deploy import write_integrator
    from loadcheck.serving.repository import RepositorySettings, build_repository

    root = tmp_path_factory.mktemp("tiny_repository")
    repository = root / "repository"
    build_repository(tiny_models, repository, RepositorySettings())
    x = np.random.default_rng(0).random((20, len(FEATURE_SPEC)), dtype=np.float32)
    version = repository / tn.scorer_model_name("site_a") / "1"
    version.mkdir(parents=True)
    fit_score_model(x, (x[:, 0] > 0.5).astype(int), cv_folds=0).model.save(version)
    write_integrator(repository, "site_a", home=root / "no-workspace")
    return repository
