"""``benchmarks/sam_verdicts.py``: a SAM training checkpoint's verdicts, prompted with
the true boxes.

For comparing SAM training recipes without the detector and without an ONNX export: the
checkpoint runs in PyTorch as the ``python-torch`` runtime serves it (the exporter's encoder and
decoder modules, :class:`~loadcheck.pipeline.torch_networks.TorchNetworkStep`: float32 on the
CPU, bfloat16 autocast on a GPU) between the served ``preprocess``, ``prompts`` and ``masks``
steps (:func:`checkpoint_pipeline`), prompted with each scene's **true** boxes, so a difference
between two checkpoints is SAM's alone. :func:`evaluate` reports:

* verdict accuracy of an integrator with loadcheck's defaults fitted on the fitting scenes'
  served masks and tested on the test scenes (as ``benchmarks/verdict_oracles.py`` scores its
  ``served`` row), with its 95 % Wilson interval;
* the **rim error** (:func:`rim_error`) of the scored truck of each loaded test scene;
* the mean bed and load mask IoU of those trucks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.evaluation.metrics import mask_iou
from loadcheck.evaluation.oracles import ScoredVersion, accuracy_of, score_versions, true_masks_of
from loadcheck.evaluation.report import machine
from loadcheck.evaluation.scenes import load_scene, scene_folder, true_prompts
from loadcheck.evaluation.served import ServedPipeline, served_trucks
from loadcheck.pipeline.tensors import TensorSpec

#: The scenes' size (the demo's).
SIZE_WH = (960, 540)


def rim_error(served_bed: np.ndarray, true_bed: np.ndarray) -> float | None:
    """Mean |served rim line - true rim line| over the served bed's columns, in true bed
    heights (the lines of ``features.profile.bed_geometry``, fitted as straight lines); ``None``
    when either mask holds no bed. The load heights, pits and balance are all measured from
    that line (docs/quality.md)."""
    from loadcheck.features.profile import bed_geometry

    served, truth = bed_geometry(served_bed), bed_geometry(true_bed)
    if served is None or truth is None:
        return None
    cols = np.arange(served.x1, served.x2 + 1, dtype=np.float64)
    fit_s = np.polyfit(np.arange(served.x1, served.x2 + 1), served.y1 + served.rim, 1)
    fit_t = np.polyfit(np.arange(truth.x1, truth.x2 + 1), truth.y1 + truth.rim, 1)
    gap = np.abs(np.polyval(fit_s, cols) - np.polyval(fit_t, cols))
    return float(gap.mean() / truth.height)


def _sam_tensors(side: int) -> dict[str, tuple[TensorSpec, ...]]:
    """The encoder's and decoder's tensors (as their exported cards declare them)."""
    grid, low = side // 16, side // 4
    return {
        "encoder_in": (TensorSpec(tn.SAM_ENCODER_INPUT, "uint8", (-1, side, side, 3)),),
        "encoder_out": (TensorSpec(tn.SAM_EMBEDDINGS, "float32", (-1, 256, grid, grid)),),
        "decoder_in": (
            TensorSpec(tn.SAM_DECODER_EMBEDDINGS, "float32", (-1, 256, grid, grid)),
            TensorSpec(tn.SAM_DECODER_BOXES, "float32", (-1, 4)),
            TensorSpec(tn.SAM_DECODER_POINT_COORDS, "float32", (-1, 1, 2)),
            TensorSpec(tn.SAM_DECODER_POINT_LABELS, "float32", (-1, 1)),
        ),
        "decoder_out": (
            TensorSpec(tn.SAM_LOW_RES_MASKS, "float32", (-1, 1, low, low)),
            TensorSpec(tn.SAM_IOU_PREDICTIONS, "float32", (-1, 1)),
        ),
    }


def checkpoint_pipeline(
    checkpoint: Path, model_type: str, img_size: int, device: str | None = None
) -> ServedPipeline:
    """``preprocess -> prompts -> sam_encoder -> sam_decoder -> masks`` with the checkpoint's
    PyTorch modules as the networks (served settings: crop frame, SAM's pad colour, the default
    mask refinement); ``device``: ``"cpu"``, ``"cuda:N"`` or None (a GPU when PyTorch sees one).
    """
    import torch

    from loadcheck.export.sam_models import load_sam
    from loadcheck.export.sam_onnx import SAM_PAD_RGB, make_decoder_module, make_encoder_module
    from loadcheck.pipeline.masks import MasksSettings, MasksStep
    from loadcheck.pipeline.preprocess import PreprocessStep
    from loadcheck.pipeline.prompts import PromptsSettings, PromptsStep
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.pipeline.torch_networks import TorchNetworkSettings, TorchNetworkStep

    where = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sam, detected = load_sam(checkpoint, model_type, img_size)
    side = int(sam.image_encoder.img_size)
    tensors = _sam_tensors(side)
    networks = []
    for name, make, key in (
        (tn.SAM_ENCODER_MODEL, make_encoder_module, "encoder"),
        (tn.SAM_DECODER_MODEL, make_decoder_module, "decoder"),
    ):
        settings = TorchNetworkSettings(name, detected, side, Path(checkpoint).name)
        module = make(sam).eval().to(where)
        networks.append(
            TorchNetworkStep(name, settings, tensors[f"{key}_in"], tensors[f"{key}_out"], module)
        )
    prompts = PromptsSettings(sam_img_size=side, sam_pad_rgb=SAM_PAD_RGB)
    steps = [
        PreprocessStep(),
        PromptsStep(settings=prompts),
        *networks,
        MasksStep(settings=MasksSettings(sam_img_size=side)),
    ]
    return ServedPipeline(PipelineRunner.from_steps(steps, [tn.MASKS, tn.MASK_IOU]))


@dataclass(frozen=True)
class CheckpointRun:
    """The checkpoint and the scenes it is scored on (seeds differ; counts >= 1)."""

    checkpoint: Path
    model_type: str = "vit_tiny"
    img_size: int = 512
    fit_seed: int = 1
    fit_count: int = 200
    test_seed: int = 2
    test_count: int = 300
    cache: Path = Path("runs/eval_cache")

    def __post_init__(self) -> None:
        if min(self.fit_seed, self.test_seed) < 0 or self.fit_seed == self.test_seed:
            raise ValueError("fit and test seeds: expected two different integers >= 0")


def serve_true_boxes(
    pipeline: ServedPipeline, cache: Path, seed: int, count: int, *, measure: bool
) -> tuple[list[tuple[str, ScoredVersion]], dict[str, list[float]]]:
    """(label, served version) per scene, and (with ``measure``) the rim error and mask IoUs of
    the loaded scored trucks."""
    from loadcheck.features.trucks import scored_truck

    folder = scene_folder(cache, seed, SIZE_WH)
    rows: list[tuple[str, ScoredVersion]] = []
    figures: dict[str, list[float]] = {"rim_error": [], "bed_iou": [], "load_iou": []}
    for index in range(count):
        scene = load_scene(folder, seed, index, SIZE_WH)
        photo = pipeline.photo(scene.jpeg)
        truck = scored_truck(served_trucks(pipeline, photo, true_prompts(scene)))
        w, h = photo.image_wh
        scored = score_versions({"served": truck}, (h, w))["served"]
        rows.append((scene.label, scored))
        if not (measure and truck is not None and scored.loaded):
            continue
        truth = true_masks_of(scene, truck.bed_mask)
        error = rim_error(truck.bed_mask, truth[0]) if truth is not None else None
        if truth is not None and truth[1].any() and error is not None:
            figures["rim_error"].append(error)
            figures["bed_iou"].append(mask_iou(truck.bed_mask, truth[0]))
            figures["load_iou"].append(mask_iou(truck.load_mask, truth[1]))
    return rows, figures


def evaluate(run: CheckpointRun, pipeline: ServedPipeline | None = None) -> dict[str, Any]:
    """Every figure as a JSON-ready dict (see the module docstring); ``pipeline``: default
    :func:`checkpoint_pipeline` of the run's checkpoint."""
    start = time.perf_counter()
    if pipeline is None:
        pipeline = checkpoint_pipeline(run.checkpoint, run.model_type, run.img_size)
    fit, _ = serve_true_boxes(pipeline, run.cache, run.fit_seed, run.fit_count, measure=False)
    test, figures = serve_true_boxes(
        pipeline, run.cache, run.test_seed, run.test_count, measure=True
    )
    encoder = pipeline.runner.step(tn.SAM_ENCODER_MODEL)
    return {
        "checkpoint": str(run.checkpoint),
        "fit": {"seed": run.fit_seed, "count": run.fit_count},
        "test": {"seed": run.test_seed, "count": run.test_count},
        "verdict": accuracy_of(fit, test),
        **{k: round(float(np.mean(v)), 4) if v else None for k, v in figures.items()},
        "n_loaded": len(figures["rim_error"]),
        "device": str(getattr(getattr(encoder, "device", None), "type", "cpu")),
        "elapsed_s": round(time.perf_counter() - start, 1),
        "machine": machine(),
    }


def format_summary(result: dict[str, Any]) -> str:
    """The printed one-line summary of :func:`evaluate`'s result."""
    verdict = result["verdict"]
    return (
        f"{result['checkpoint']}: verdict accuracy {verdict['accuracy']:.3f} "
        f"(95 % {verdict['ci95'][0]:.3f}-{verdict['ci95'][1]:.3f}), rim error "
        f"{result['rim_error']} bed heights, mask IoU bed {result['bed_iou']} / load "
        f"{result['load_iou']} ({result['n_loaded']} loaded trucks, {result['device']}, "
        f"{result['elapsed_s']:.0f} s)"
    )
