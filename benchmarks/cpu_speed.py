"""Serving speed against the old single-process way, measured in one run on the same photos.

    python benchmarks/cpu_speed.py [--folder runs/cpu_speed] [--sam-type vit_b] [--sam-side 512]
        [--fp32-encoder] [--fp32-decoder] [--max-det 4] [--photos 12] [--old-photos 3]
        [--concurrency 1,2] [--requests 12] [--json OUT]

Random-weight SAM and YOLOv6-n of the real sizes, the bundled tritonserver serving
``integrator_speed`` (crop path), and the replaced system (``SamPredictor`` on the whole photo at
1024 px, PyTorch YOLOv6, features, XGBoost) on the same synthetic photos; prints both pipelines'
throughput and p50/p90/p99, their ratio and the load average (``loadcheck.evaluation.speed``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--folder", type=Path, default=Path("runs/cpu_speed"), help="work folder")
    p.add_argument("--sam-type", default="vit_b", choices=("vit_tiny", "vit_b", "vit_l", "vit_h"))
    p.add_argument("--sam-side", type=arguments.positive_int, default=512, help="crop side")
    p.add_argument("--fp32-encoder", action="store_true", help="serve the fp32 encoder")
    p.add_argument("--fp32-decoder", action="store_true", help="serve the fp32 mask decoder")
    p.add_argument("--max-det", type=arguments.positive_int, default=4, help="prompts per photo")
    p.add_argument("--photos", type=arguments.positive_int, default=12, help="served photos")
    p.add_argument("--old-photos", type=arguments.positive_int, default=3, help="old-way photos")
    p.add_argument("--concurrency", type=arguments.counts, default=(1, 2), help="levels")
    p.add_argument("--requests", type=arguments.positive_int, default=12, help="per level")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads per network")
    p.add_argument("--json", type=Path, default=None, help="write every figure here")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from loadcheck.evaluation.report import conclude
    from loadcheck.evaluation.speed import SpeedRun, format_table, measure

    run = SpeedRun(
        folder=args.folder,
        sam_type=args.sam_type,
        sam_side=args.sam_side,
        int8_encoder=not args.fp32_encoder,
        int8_decoder=not args.fp32_decoder,
        max_det=args.max_det,
        photos=args.photos,
        old_photos=min(args.old_photos, args.photos),
        concurrency=args.concurrency,
        requests=args.requests,
        intra_op_threads=args.threads,
    )
    result = measure(run)
    print(conclude(format_table(result), result, args.json))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
