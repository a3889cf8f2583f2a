"""Serving speed against the old single-process way, in one run (``benchmarks/cpu_speed.py``).

Random-weight networks of the real sizes (SAM ViT-B, YOLOv6-n: timing does not depend on the
weights), synthetic photos, then:

* **served**: ``loadcheck repository build`` (crop path, the given settings) with an integrator
  fitted on synthetic truth, the bundled ``tritonserver``, ``integrator_<name>`` over HTTP:
  single stream (p50 / p90 / p99) and a concurrency sweep (throughput), with each model's compute
  from Triton's statistics;
* **old way**: segment-anything's ``SamPredictor`` on the whole photo at 1024 px, YOLOv6 in
  PyTorch, features and XGBoost in one process (:mod:`loadcheck.evaluation.baseline`), on the
  same photos;

with the machine's load average before and after, since a shared machine moves every figure.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.evaluation.report import machine
from loadcheck.evaluation.timing import time_calls
from loadcheck.evaluation.triton_load import compute_per_request, model_stats, run_level

LOG = logging.getLogger(__name__)
INTEGRATOR = "speed"


@dataclass(frozen=True)
class SpeedRun:
    """What to build and measure.

    Attributes:
        folder: where the checkpoints, exports, repository and server log go (reused).
        sam_type / sam_side: the SAM size and the crop side it encodes (served).
        int8_encoder: serve the encoder with int8 MatMul weights (``export sam --int8-encoder``).
        int8_decoder: the same for the mask decoder (``export sam --int8-decoder``).
        detector_side / detector_width: YOLOv6-n's input side and width (0.25: YOLOv6-n).
        max_det: detections kept per photo (the prompts SAM decodes).
        photos / old_photos: synthetic 960 x 540 photos served / run the old way.
        concurrency: the served sweep's levels; requests: per level.
        old_sam_side: the side the old way encodes the whole photo at.
        intra_op_threads: ONNX Runtime threads per served network (0: its default).
        seed: of the random weights and the photos.
    """

    folder: Path
    sam_type: str = "vit_b"
    sam_side: int = 512
    int8_encoder: bool = True
    int8_decoder: bool = True
    detector_side: int = 640
    detector_width: float = 0.25
    max_det: int = 4
    photos: int = 12
    old_photos: int = 3
    concurrency: tuple[int, ...] = (1, 2)
    requests: int = 12
    old_sam_side: int = 1024
    intra_op_threads: int = 0
    seed: int = 0
    size_wh: tuple[int, int] = field(default=(960, 540))


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def prepare_networks(run: SpeedRun) -> Path:
    """Random checkpoints of the run's sizes, exported once into ``folder/exports-<variant>``."""
    from loadcheck.export.sam_onnx import export_sam
    from loadcheck.export.tiny import build_tiny_sam_checkpoint, build_tiny_yolov6_checkpoint
    from loadcheck.export.yolov6_onnx import export_yolov6
    from loadcheck.pipeline.cards import CARD_SUFFIX

    precision = ("-int8" if run.int8_encoder else "") + ("-int8dec" if run.int8_decoder else "")
    variant = f"{run.sam_type}-{run.sam_side}{precision}"
    out = run.folder / f"exports-{variant}"
    if len(list(out.glob(f"*{CARD_SUFFIX}"))) >= 3:
        return out
    checkpoints = out / "checkpoints"
    LOG.info("building random %s SAM and YOLOv6-n into %s", run.sam_type, out)
    sam = build_tiny_sam_checkpoint(
        checkpoints / f"sam_{run.sam_type}_random.pth", run.sam_side, run.seed, run.sam_type
    )
    detector = build_tiny_yolov6_checkpoint(
        checkpoints / "yolov6n_random.pt",
        run.detector_side,
        seed=run.seed,
        width_multiple=run.detector_width,
    )
    export_yolov6(detector, out, run.detector_side, classes="bed,load")
    export_sam(
        sam,
        out,
        run.sam_type,
        run.sam_side,
        int8_encoder=run.int8_encoder,
        int8_decoder=run.int8_decoder,
    )
    return out


def fit_synthetic_scorer(out_dir: Path, *, scenes: int = 40, seed: int = 0) -> Path:
    """An XGBoost score model fitted on synthetic scenes' true masks into ``out_dir`` (a scorer
    version folder): a stand-in integrator whose verdicts are beside the point of a timing."""
    from loadcheck.features.extract import extract_features
    from loadcheck.payloads import Verdict
    from loadcheck.scoring.fit import fit_score_model
    from loadcheck.synth import render_scene

    xs, ys = [], []
    for index in range(scenes):
        scene = render_scene(seed, index, size_wh=(320, 180))
        for truck in scene.trucks:
            if truck.has_load:
                xs.append(extract_features(truck.to_truck_masks()).values)
                ys.append(1 if truck.label == Verdict.QUALIFIED else 0)
    result = fit_score_model(np.stack(xs), np.array(ys), cv_folds=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.model.save(out_dir)
    return out_dir


def build_served(run: SpeedRun, exports: Path) -> Path:
    """The repository of the run's settings with the ``speed`` integrator deployed."""
    from loadcheck import tensor_names as tn
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.repository import RepositorySettings, build_repository

    repository = run.folder / f"repository-{exports.name.removeprefix('exports-')}"
    settings = RepositorySettings(
        detector=DetectorSettings(max_det=run.max_det), intra_op_threads=run.intra_op_threads
    )
    build_repository(exports, repository, settings)
    fit_synthetic_scorer(repository / tn.scorer_model_name(INTEGRATOR) / "1")
    deploy(repository, INTEGRATOR, home=run.folder / "no-workspace")
    return repository


def photos(run: SpeedRun) -> list[bytes]:
    from loadcheck.synth import render_scene

    return [render_scene(run.seed + 11, i, run.size_wh).encode_jpeg() for i in range(run.photos)]


def measure_served(run: SpeedRun, repository: Path, images: list[bytes]) -> dict[str, Any]:
    """Single stream and the concurrency sweep of ``integrator_speed`` on the bundled server."""
    from loadcheck import tensor_names as tn
    from loadcheck.serving.server import TritonServer

    model = tn.integrator_model_name(INTEGRATOR)
    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        log_path=run.folder / "tritonserver.log",
        startup_timeout_s=600,
    )
    levels = []
    with server:
        run_level(server.http_url, model, images, 1, 2)  # warm-up
        for level in run.concurrency:
            before = model_stats(server.http_url)
            result = run_level(server.http_url, model, images, level, run.requests)
            result["per_model"] = compute_per_request(before, model_stats(server.http_url), model)
            levels.append(result)
            LOG.info(
                "served, concurrency %d: %s",
                level,
                {k: result[k] for k in ("p50_s", "throughput_img_s")},
            )
    return {"levels": levels}


def measure_old_way(
    run: SpeedRun, exports: Path, repository: Path, images: list[bytes]
) -> dict[str, Any]:
    """The replaced system on the first ``old_photos`` photos (PyTorch, 2 threads)."""
    import torch

    from loadcheck.evaluation.baseline import SingleProcessBaseline

    torch.set_num_threads(2)
    baseline = SingleProcessBaseline.load(
        exports, repository, INTEGRATOR, sam_img_size=run.old_sam_side
    )
    return {
        "sam_img_size": baseline.sam_img_size,
        "frame": "whole photo",
        **time_calls(baseline, images[: run.old_photos], rounds=1),
    }


def measure(run: SpeedRun) -> dict[str, Any]:
    """Every figure of the benchmark (see the module docstring) as a JSON-ready dict."""
    run.folder.mkdir(parents=True, exist_ok=True)
    exports = prepare_networks(run)
    repository = build_served(run, exports)
    images = photos(run)
    load_before = load_average()
    started = time.perf_counter()
    served = measure_served(run, repository, images)
    old = measure_old_way(run, exports, repository, images)
    best = max(level["throughput_img_s"] for level in served["levels"])
    return {
        "run": {**asdict(run), "folder": str(run.folder)},
        "served": served,
        "old_way": old,
        "throughput_ratio": round(best / old["throughput_img_s"], 2),
        "single_stream_p50_s": served["levels"][0]["p50_s"],
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "elapsed_s": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }


def format_table(result: dict[str, Any]) -> str:
    run = result["run"]
    encoder = "int8" if run["int8_encoder"] else "fp32"
    decoder = "int8" if run.get("int8_decoder") else "fp32"
    lines = [
        f"SAM {run['sam_type']} crop @{run['sam_side']} ({encoder} encoder, {decoder} decoder), "
        f"YOLOv6-n "
        f"@{run['detector_side']}, max {run['max_det']} prompts; {result['machine']}",
        f"load average before {result['load_average_before']}, "
        f"after {result['load_average_after']}",
        f"{'pipeline':42s} {'conc':>4s} {'img/s':>7s} {'p50 s':>7s} {'p90 s':>7s} {'p99 s':>7s}",
    ]
    for level in result["served"]["levels"]:
        lines.append(
            f"{'served (Triton, integrator)':42s} {level['concurrency']:4d} "
            f"{level['throughput_img_s']:7.3f} {level['p50_s']:7.3f} {level['p90_s']:7.3f} "
            f"{level['p99_s']:7.3f}"
        )
    old = result["old_way"]
    lines.append(
        f"{'old way (SamPredictor whole @' + str(old['sam_img_size']) + ', one process)':42s} "
        f"{1:4d} {old['throughput_img_s']:7.3f} {old['p50_s']:7.3f} {old['p90_s']:7.3f} "
        f"{old['p99_s']:7.3f}"
    )
    lines.append(f"throughput ratio served / old way: {result['throughput_ratio']}x")
    first = result["served"]["levels"][0]["per_model"]
    lines.append(
        "compute per request (ms, concurrency "
        f"{result['served']['levels'][0]['concurrency']}): "
        + ", ".join(f"{k} {v['compute_ms_per_request']}" for k, v in sorted(first.items()))
    )
    return "\n".join(lines)
