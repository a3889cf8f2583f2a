"""The GPU serving benchmark: the naive way against the optimised one, in one run.

    python benchmarks/gpu/bench_gpu.py --out runs/gpu [--results DIR] [--perf-analyzer PATH]
        [--concurrency 1,8] [--window-ms 2000] [--variants naive,fused,batched] [--budget-s 520]
    python benchmarks/gpu/bench_gpu.py --cpu --out runs/gpu-dry   # the dry run (tests, CPU)

Builds random-weight SAM ViT-L and YOLOv6-s (``--cpu``: vit_tiny at 256 and a tiny YOLOv6),
writes their model cards for the ``python-torch`` runtime (the template cards of
``benchmarks/gpu/cards`` resized by their dimension names: no ONNX export, no onnx package
needed on the GPU host), and for each SAM path (``whole``: the frame at 1024; ``crop``: the
trucks' region at 512) one repository per variant:

* ``naive``: the old system's way inside Triton: eager fp32, segment-anything's attention, no
  batching, one request at a time, encoder and decoder as two models (the embeddings go GPU ->
  host -> shared memory -> GPU);
* ``fused``: bf16, fused attention (SDPA), encoder + decoder as one model (``--fuse-sam``),
  the detector batched, warm-up at load, 2 instances;
* ``batched``: bf16, fused attention, the encoder batched by Triton (max 8, preferred 4 and 8),
  encoder and decoder as two models, warm-up at load.

Each repository is served by the bundled tritonserver and ``integrator_bench`` is driven with
JPEG photos: by ``perf_analyzer`` over HTTP and gRPC at each concurrency (time windows), or
with ``--cpu`` by the project's own load generator (:func:`loadcheck.evaluation.triton_load.
run_level`; perf_analyzer needs glibc >= 2.38). Writes ``summary.csv`` (and perf_analyzer's
CSVs) into ``--results`` after every variant (a run cut short keeps what it measured; no variant
starts after ``--budget-s``), prints each variant's figures, its ratio to ``naive`` and the mask
parity (IoU of each photo's masks against ``naive``'s).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.evaluation import arguments

LOG = logging.getLogger("bench_gpu")
HERE = Path(__file__).resolve().parent
INTEGRATOR = "bench"
VARIANTS = ("naive", "fused", "batched")
#: The issue's targets (one H100/H200, whole pipeline through Triton).
TARGETS = {"whole_img_s": 150.0, "crop_img_s": 500.0, "p50_ms_c1": 15.0, "mask_iou": 0.99}


@dataclass(frozen=True)
class Sizes:
    """The networks of a run: SAM type and the side of each SAM path, the detector's."""

    sam_type: str
    paths: tuple[tuple[str, int], ...]  # (sam_frame, side)
    detector_side: int
    detector_width: float
    photo_wh: tuple[int, int]
    device: str


GPU = Sizes("vit_l", (("whole", 1024), ("crop", 512)), 640, 0.5, (1280, 720), "gpu")
CPU = Sizes("vit_tiny", (("whole", 256), ("crop", 256)), 320, 0.125, (480, 270), "cpu")


def anchors(side: int) -> int:
    """YOLOv6's raw detections for a ``side`` x ``side`` input (strides 8, 16, 32)."""
    return sum((side // s) ** 2 for s in (8, 16, 32))


def resized_card(template: dict[str, Any], side: int, **fields: Any) -> dict[str, Any]:
    """A template card at another input side: shapes rebuilt from the dimension names."""
    dims = {"S": side, "S/16": side // 16, "S/4": side // 4, "N": anchors(side)}
    card = {**template, "image_size": side, **fields}
    for key in ("inputs", "outputs"):
        card[key] = [
            {
                **t,
                "shape": [
                    -1 if n in ("B", "K") else dims[n] if n in dims else int(old)
                    for n, old in zip(t["dim_names"], t["shape"], strict=True)
                ],
            }
            for t in template[key]
        ]
    extra = dict(template.get("extra", {}))
    if "embedding_hw" in extra:
        extra["embedding_hw"] = [side // 16, side // 16]
    if "low_res_mask_hw" in extra:
        extra["low_res_mask_hw"] = [side // 4, side // 4]
    card["extra"] = extra
    return card


def build_networks(out: Path, sizes: Sizes) -> dict[int, Path]:
    """Random checkpoints and, per SAM side, an export folder of cards (python-torch only)."""
    from loadcheck.export.tiny import build_tiny_sam_checkpoint, build_tiny_yolov6_checkpoint
    from loadcheck.imageio import sha256_file

    checkpoints = out / "checkpoints"
    sam = checkpoints / f"sam_{sizes.sam_type}_random.pth"
    detector = checkpoints / "yolov6_random.pt"
    largest = max(side for _, side in sizes.paths)
    if not sam.is_file():
        LOG.info("random %s SAM -> %s", sizes.sam_type, sam)
        build_tiny_sam_checkpoint(sam, largest, 0, sizes.sam_type)
    if not detector.is_file():
        LOG.info("random YOLOv6 (width %.3f) -> %s", sizes.detector_width, detector)
        build_tiny_yolov6_checkpoint(
            detector, sizes.detector_side, seed=0, width_multiple=sizes.detector_width
        )
    hashes = {p.name: sha256_file(p) for p in (sam, detector)}
    folders = {}
    for side in sorted({side for _, side in sizes.paths}):
        folder = out / f"exports-{side}"
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        for ckpt in (sam, detector):
            target = folder / "checkpoints" / ckpt.name
            if not target.exists():
                target.symlink_to(ckpt.resolve())
        for name in ("detector", "sam_encoder", "sam_decoder"):
            template = json.loads((HERE / "cards" / f"{name}.onnx.card.json").read_text())
            if name == "detector":
                card = resized_card(
                    template,
                    sizes.detector_side,
                    source_checkpoint=detector.name,
                    source_sha256=hashes[detector.name],
                    model_type="yolov6",
                )
            else:
                card = resized_card(
                    template,
                    side,
                    source_checkpoint=sam.name,
                    source_sha256=hashes[sam.name],
                    model_type=sizes.sam_type,
                )
            card["extra"] = {**card["extra"], "python_torch_only": True}
            (folder / f"{name}.onnx.card.json").write_text(json.dumps(card, indent=2))
        folders[side] = folder
    return folders


def variant_settings(variant: str, frame: str, sizes: Sizes) -> Any:
    from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
    from loadcheck.serving.config import Device
    from loadcheck.serving.repository import RepositorySettings

    base = RepositorySettings.uniform(
        "python-torch",
        Device(sizes.device),
        sam_frame=SamFrame(frame),
        detector=DetectorSettings(max_det=4),
        queue_delay_us=0,
    )
    if variant == "naive":
        return replace(
            base,
            bf16=False,
            fused_attention=False,
            detector_max_batch=0,
            encoder_max_batch=0,
        )
    gpu = sizes.device == "gpu"
    optimised = replace(base, bf16=True, fused_attention=True, warmup=True)
    if variant == "fused":
        return replace(optimised, fuse_sam=True, instances=2 if gpu else 1)
    if variant == "batched":
        return replace(optimised, encoder_max_batch=8, encoder_preferred_batch=(4, 8))
    raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")


def build_repository_of(out: Path, exports: Path, variant: str, frame: str, sizes: Sizes) -> Path:
    from loadcheck import tensor_names as tn
    from loadcheck.evaluation.speed import fit_synthetic_scorer
    from loadcheck.serving.deploy import deploy
    from loadcheck.serving.repository import build_repository

    repository = out / f"repository-{frame}-{variant}"
    shutil.rmtree(repository, ignore_errors=True)
    build_repository(exports, repository, variant_settings(variant, frame, sizes))
    fit_synthetic_scorer(repository / tn.scorer_model_name(INTEGRATOR) / "1")
    deploy(repository, INTEGRATOR, home=out / "no-workspace")
    return repository


def photos(sizes: Sizes, count: int) -> list[bytes]:
    from loadcheck.synth import render_scene

    return [render_scene(5, i, size_wh=sizes.photo_wh).encode_jpeg() for i in range(count)]


def served_masks(url: str, images: Sequence[bytes]) -> list[np.ndarray]:
    """Each photo's union of masks (bool [H, W]) as ``integrator_bench`` returns them."""
    import tritonclient.http as httpclient

    from loadcheck import tensor_names as tn

    client = httpclient.InferenceServerClient(url, network_timeout=600.0)
    out = []
    try:
        for image in images:
            inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
            inp.set_data_from_numpy(np.array([image], np.object_))
            wanted = [httpclient.InferRequestedOutput(n) for n in (tn.SCORE_RESULT, tn.MASKS)]
            masks = client.infer(tn.integrator_model_name(INTEGRATOR), [inp], outputs=wanted)
            value = masks.as_numpy(tn.MASKS)
            out.append(value.any(axis=0) if value is not None and len(value) else np.zeros(1, bool))
    finally:
        client.close()
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 0.0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def perf_analyzer_level(
    binary: str,
    protocol: str,
    url: str,
    data: Path,
    concurrency: int,
    window_ms: int,
    csv_out: Path,
) -> dict[str, Any]:
    """One concurrency level by perf_analyzer (time windows); its CSV row, latencies in ms."""
    from loadcheck import tensor_names as tn

    command = [
        binary,
        "-m",
        tn.integrator_model_name(INTEGRATOR),
        "-i",
        protocol,
        "-u",
        url,
        "--input-data",
        str(data),
        "--concurrency-range",
        f"{concurrency}:{concurrency}",
        "--measurement-mode",
        "time_windows",
        "--measurement-interval",
        str(window_ms),
        "--stability-percentage",
        "25",
        "--max-trials",
        "5",
        "-f",
        str(csv_out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-800:]
        raise RuntimeError(f"perf_analyzer {protocol} c={concurrency} failed: {tail}")
    with csv_out.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    return {
        "throughput_img_s": float(row["Inferences/Second"]),
        "p50_ms": float(row["p50 latency"]) / 1000.0,
        "p99_ms": float(row["p99 latency"]) / 1000.0,
    }


def loadgen_level(
    url: str, images: Sequence[bytes], concurrency: int, requests: int
) -> dict[str, Any]:
    """One concurrency level by the project's load generator (the ``--cpu`` dry run)."""
    from loadcheck import tensor_names as tn
    from loadcheck.evaluation.triton_load import run_level

    result = run_level(url, tn.integrator_model_name(INTEGRATOR), images, concurrency, requests)
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} requests failed: {result['first_failure']}")
    return {
        "throughput_img_s": result["throughput_img_s"],
        "p50_ms": result["p50_s"] * 1000.0,
        "p99_ms": result["p99_s"] * 1000.0,
    }


def measure_variant(
    args: argparse.Namespace, repository: Path, images: list[bytes], label: str
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    from loadcheck.serving.server import TritonServer

    server = TritonServer(
        repository,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        log_path=args.results / f"tritonserver-{label}.log",
        startup_timeout_s=600,
    )
    rows = []
    started = time.perf_counter()
    with server:
        LOG.info("%s: loaded in %.0f s", label, time.perf_counter() - started)
        masks = served_masks(server.http_url, images)  # also warms the server up
        data = args.out / "photos.json"
        for protocol in ("http",) if args.cpu else ("http", "grpc"):
            url = server.http_url if protocol == "http" else server.grpc_url
            for level in args.concurrency:
                if args.cpu:
                    figures = loadgen_level(url, images, level, args.requests)
                else:
                    csv_out = args.results / f"perf-{label}-{protocol}-c{level}.csv"
                    figures = perf_analyzer_level(
                        args.perf_analyzer, protocol, url, data, level, args.window_ms, csv_out
                    )
                row = {"variant": label, "protocol": protocol, "concurrency": level, **figures}
                LOG.info("%s", row)
                rows.append(row)
    return rows, masks


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Each variant's throughput and p50 against ``naive`` of the same path, protocol, level."""
    base = {
        (r["path"], r["protocol"], r["concurrency"]): r for r in rows if r["variant"] == "naive"
    }
    lines = []
    for r in rows:
        ref = base.get((r["path"], r["protocol"], r["concurrency"]))
        if r["variant"] == "naive" or ref is None:
            continue
        speedup = r["throughput_img_s"] / max(ref["throughput_img_s"], 1e-9)
        faster = ref["p50_ms"] / max(r["p50_ms"], 1e-9)
        lines.append(
            f"{r['path']:9s} {r['variant']:7s} {r['protocol']:4s} c={r['concurrency']:<3d} "
            f"{r['throughput_img_s']:8.1f} img/s ({speedup:5.2f}x naive)  "
            f"p50 {r['p50_ms']:7.1f} ms ({faster:5.2f}x naive's)"
        )
    return lines


def target_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The best optimised figures of each path against the issue's targets."""
    lines = []
    for path in sorted({r["path"] for r in rows}):
        mine = [r for r in rows if r["path"] == path and r["variant"] != "naive"]
        if not mine:
            continue
        best = max(mine, key=lambda r: r["throughput_img_s"])
        single = min((r for r in mine if r["concurrency"] == 1), key=lambda r: r["p50_ms"])
        goal = TARGETS["whole_img_s" if path.startswith("whole") else "crop_img_s"]
        lines.append(
            f"target {path}: {best['throughput_img_s']:.1f} img/s ({best['variant']}, "
            f"{best['protocol']}, c={best['concurrency']}; target >= {goal:.0f}), p50 at c=1 "
            f"{single['p50_ms']:.1f} ms ({single['variant']}; target <= {TARGETS['p50_ms_c1']:.0f})"
        )
    return lines


def write_results(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    parity: dict[str, dict[str, float]],
    skipped: list[str],
    wall_s: float,
) -> dict[str, Any]:
    """``summary.csv`` and ``result.json`` in ``--results`` (rewritten after every variant, so
    that a run cut short still leaves what it measured)."""
    if rows:
        with (args.results / "summary.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    result = {
        "device": args.device_name,
        "sizes": (CPU if args.cpu else GPU).__dict__,
        "rows": rows,
        "mask_iou_vs_naive": parity,
        "skipped_for_time": skipped,
        "targets": TARGETS,
        "wall_s": round(wall_s, 1),
    }
    (args.results / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = CPU if args.cpu else GPU
    args.out.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    exports = build_networks(args.out, sizes)
    images = photos(sizes, args.photos)
    (args.out / "photos.json").write_text(
        json.dumps({"data": [{"IMAGE": {"b64": base64.b64encode(i).decode()}} for i in images]})
    )
    LOG.info("networks and photos ready in %.0f s", time.perf_counter() - started)
    rows: list[dict[str, Any]] = []
    parity: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for frame, side in sizes.paths:
        if frame not in args.paths:
            continue
        path = f"{frame}-{side}"
        masks: dict[str, list[np.ndarray]] = {}
        for variant in args.variants:
            label = f"{path}-{variant}"
            if time.perf_counter() - started > args.budget_s:
                LOG.warning("%s skipped: the %d s budget is spent", label, args.budget_s)
                skipped.append(label)
                continue
            repository = build_repository_of(args.out, exports[side], variant, frame, sizes)
            found, masks[variant] = measure_variant(args, repository, images, label)
            rows.extend({"path": path, **r, "variant": variant} for r in found)
            if not args.keep_repositories:
                shutil.rmtree(repository, ignore_errors=True)
            if variant != "naive" and "naive" in masks:
                pairs = zip(masks[variant], masks["naive"], strict=True)
                ious = [mask_iou(a, b) for a, b in pairs]
                parity[label] = {
                    "mean": float(np.mean(ious)),
                    "min": min(ious),
                    "naive_mask_pixels": float(np.mean([m.sum() for m in masks["naive"]])),
                }
            write_results(args, rows, parity, skipped, time.perf_counter() - started)
    result = write_results(args, rows, parity, skipped, time.perf_counter() - started)
    print("\n".join(["", f"== {args.device_name}: throughput and p50 vs naive ==", *ratios(rows)]))
    for name, iou in parity.items():
        verdict = "ok" if iou["min"] >= TARGETS["mask_iou"] else "BELOW TARGET"
        print(f"mask IoU vs naive, {name}: mean {iou['mean']:.4f} min {iou['min']:.4f} ({verdict})")
    for line in target_lines(rows):
        print(line)
    if skipped:
        print(f"skipped for time: {', '.join(skipped)}")
    print(f"wall {result['wall_s']} s; results in {args.results}")
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/gpu"), help="work folder (models)")
    p.add_argument("--results", type=Path, default=None, help="CSVs, JSON, logs (--out)")
    p.add_argument(
        "--budget-s", type=arguments.positive_int, default=520, help="start no variant after"
    )
    p.add_argument("--cpu", action="store_true", help="dry run: tiny models, CPU, own loadgen")
    p.add_argument("--perf-analyzer", default="perf_analyzer", help="perf_analyzer binary")
    p.add_argument("--concurrency", type=arguments.counts, default=None, help="e.g. 1,4,16")
    p.add_argument("--window-ms", type=arguments.positive_int, default=2000, help="time window")
    p.add_argument("--requests", type=arguments.positive_int, default=6, help="--cpu: per level")
    p.add_argument("--photos", type=arguments.positive_int, default=4, help="distinct JPEGs")
    p.add_argument("--variants", default=",".join(VARIANTS), help="naive,fused,batched")
    p.add_argument("--paths", default="whole,crop", help="SAM paths: whole, crop or both")
    p.add_argument("--device-name", default="", help="the GPU, for the report")
    p.add_argument("--keep-repositories", action="store_true", help="keep them for a look")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args.concurrency = args.concurrency or ((1, 2) if args.cpu else (1, 8))
    args.results = args.results or args.out
    args.variants = tuple(v for v in args.variants.split(",") if v)
    args.paths = tuple(v for v in args.paths.split(",") if v)
    if not args.variants or any(v not in VARIANTS for v in args.variants):
        parser.error(f"--variants: expected some of {','.join(VARIANTS)}, got {args.variants}")
    if not args.paths or any(v not in ("whole", "crop") for v in args.paths):
        parser.error(f"--paths: expected whole, crop or whole,crop, got {args.paths}")
    if not args.cpu and shutil.which(args.perf_analyzer) is None:
        parser.error(f"--perf-analyzer: {args.perf_analyzer!r} not found (the perf-analyzer wheel)")
    args.device_name = args.device_name or ("CPU dry run" if args.cpu else "GPU")
    return run(args)


if __name__ == "__main__":
    main()
