"""Export SAM with random weights at a few sizes; report export time, file sizes and ONNX Runtime
CPU latency (encoder per image, decoder per call with K boxes).

    python benchmarks/bench_export_sam.py --model-type vit_b --img-size 1024 --img-size 512

Random weights time the same as trained ones (same graph, same shapes). Prints one JSON line per
configuration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn


def _latency_s(session: Any, feeds: dict[str, np.ndarray], runs: int) -> float:
    session.run(None, feeds)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _decoder_feeds(embeddings: np.ndarray, img_size: int, boxes: int) -> dict[str, np.ndarray]:
    """The decoder's inputs as the ``prompts`` step makes them: ``boxes`` random boxes in the
    SAM frame, beds and loads in turn (a load box carries its positive point)."""
    from loadcheck.payloads import Detections
    from loadcheck.pipeline.prompts import SamRegion, decoder_prompts

    xy = np.random.default_rng(1).uniform(0, img_size / 2, (boxes, 2))
    box = np.concatenate([xy, xy + img_size / 4], 1).astype(np.float32)
    prompts = Detections(box, np.ones(boxes, np.float32), (np.arange(boxes) % 2).astype(np.int32))
    frame = SamRegion(0, 0, img_size, img_size)
    return {tn.SAM_DECODER_EMBEDDINGS: embeddings, **decoder_prompts(prompts, frame, img_size)}


def bench(model_type: str, img_size: int, runs: int, boxes: int, fp16: bool) -> dict[str, object]:
    import onnxruntime as ort
    import torch

    from loadcheck.export.sam_models import build_sam
    from loadcheck.export.sam_onnx import export_sam

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / f"sam_{model_type}_random.pth"
        torch.manual_seed(0)
        torch.save(build_sam(model_type, 1024).state_dict(), ckpt)
        start = time.perf_counter()
        result = export_sam(ckpt, Path(tmp) / "out", model_type, img_size, fp16=fp16)
        export_s = time.perf_counter() - start

        def size_mb(path: Path) -> float:
            data = path.with_name(path.name + ".data")
            total = path.stat().st_size + (data.stat().st_size if data.exists() else 0)
            return round(total / 1e6, 1)

        opts = ort.SessionOptions()
        enc = ort.InferenceSession(str(result.encoder), opts, providers=["CPUExecutionProvider"])
        image = np.random.default_rng(0).integers(0, 256, (1, img_size, img_size, 3), np.uint8)
        enc_s = _latency_s(enc, {tn.SAM_ENCODER_INPUT: image}, runs)
        embeddings = enc.run(None, {tn.SAM_ENCODER_INPUT: image})[0]
        dec = ort.InferenceSession(str(result.decoder), opts, providers=["CPUExecutionProvider"])
        dec_s = _latency_s(dec, _decoder_feeds(embeddings, img_size, boxes), runs)
        return {
            "model_type": model_type,
            "img_size": img_size,
            "dtype": "fp16" if fp16 else "fp32",
            "export_s": round(export_s, 1),
            "encoder_mb": size_mb(result.encoder),
            "decoder_mb": size_mb(result.decoder),
            "ort_cpu_encoder_s_per_image": round(enc_s, 2),
            f"ort_cpu_decoder_ms_{boxes}_boxes": round(dec_s * 1000, 1),
        }


def main(argv: Sequence[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--img-size", type=int, action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--boxes", type=int, default=4)
    parser.add_argument("--fp16", action="store_true")
    args = parser.parse_args(argv)
    results = []
    for size in args.img_size or [1024, 512]:
        result = bench(args.model_type, size, args.runs, args.boxes, args.fp16)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
