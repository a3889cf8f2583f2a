"""Quality of exported detector + SAM networks on a held-out synthetic seed.

    python benchmarks/eval_demo_models.py [--models EXPORT_DIR] [--seed 9] [--count 200]
        [--size 960x540] [--frame crop|whole|both] [--json OUT] [--cache DIR]

Runs the served segmentator's own steps in-process (``loadcheck.pipeline``, the ONNX files of
``--models`` in ONNX Runtime) on scenes ``0 .. count-1`` of ``--seed`` (JPEG-encoded and decoded
as a served photo) and measures the detector's AP and box precision, SAM's mask IoU with true
and with detected boxes in each SAM frame, the load fill error of the served masks and, if
present, ``loadcheck demo``'s verdict accuracy (``loadcheck.evaluation.model_quality``). Rendered
scenes are cached as ``.npz`` (no pickle) under ``--cache``, keyed by seed, size and a hash of
the ``loadcheck.synth`` sources. Prints a table; ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments
from loadcheck.evaluation.model_quality import ModelEvaluation, evaluate, format_table
from loadcheck.evaluation.report import conclude
from loadcheck.pipeline.prompts import SamFrame


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    arguments.add_models_argument(p)
    p.add_argument("--seed", type=int, default=9, help="held-out synthetic seed (training: 0)")
    p.add_argument("--count", type=arguments.positive_int, default=200, help="scenes 0..count-1")
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument(
        "--frame",
        choices=(*(f.value for f in SamFrame), "both"),
        default="both",
        help="what SAM encodes (serving default: crop)",
    )
    p.add_argument(
        "--demo-report",
        type=Path,
        default=arguments.CHECKOUT / "runs/demo/report.json",
        help="loadcheck demo's report.json: its verdict accuracy is printed if it exists",
    )
    p.add_argument(
        "--eval-conf",
        type=arguments.unit_fraction,
        default=0.001,
        help="decode threshold for the PR curve",
    )
    p.add_argument(
        "--iou-match", type=arguments.unit_fraction, default=0.5, help="IoU of a true positive"
    )
    p.add_argument(
        "--max-det", type=arguments.positive_int, default=100, help="detections kept per image"
    )
    arguments.add_serving_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed: expected an integer >= 0, got {args.seed}")
    pipeline = arguments.open_pipeline(parser, args)
    frames = (SamFrame.CROP, SamFrame.WHOLE) if args.frame == "both" else (SamFrame(args.frame),)
    run = ModelEvaluation(
        models=args.models,
        seed=args.seed,
        count=args.count,
        size_wh=args.size,
        frames=frames,
        cache=args.cache,
        demo_report=args.demo_report,
        eval_conf=args.eval_conf,
        iou_match=args.iou_match,
        max_det=args.max_det,
        progress=args.progress,
    )
    result = evaluate(run, pipeline)
    print(conclude(format_table(result), result, args.json))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
