"""Baseline: the replaced system's way, everything in one Python process.

PyTorch SAM predictor (segment-anything's ``SamPredictor``) + PyTorch YOLOv6 + load-geometry
features + XGBoost, image after image, on the same checkpoints and images the served pipeline uses
(``loadcheck.evaluation.baseline``: decoding, letterbox, box decoding and scoring are the served
pipeline's own steps, with the repository's settings):

    python benchmarks/baseline_inprocess.py --export-dir EXPORT --repository model_repository \
        --integrator site_a --synthetic 8

The checkpoints are those the export folder's cards name, found in ``EXPORT`` or
``EXPORT/checkpoints/`` (``export_tiny_models`` writes them there), or pass
``--sam-checkpoint`` / ``--detector-checkpoint``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--export-dir", type=Path, required=True, help="exported networks + cards")
    p.add_argument("--repository", type=Path, required=True, help="a built model repository")
    p.add_argument("--integrator", required=True, help="a fitted integrator of the repository")
    p.add_argument("--sam-checkpoint", type=Path, help="default: the SAM encoder card's source")
    p.add_argument("--detector-checkpoint", type=Path, help="default: the detector card's source")
    p.add_argument("--synthetic", type=arguments.positive_int, default=8, help="scenes (seed 11)")
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument("--rounds", type=arguments.positive_int, default=2, help="passes over them")
    p.add_argument("--threads", type=arguments.positive_int, default=2, help="PyTorch threads")
    p.add_argument(
        "--sam-img-size",
        type=arguments.positive_int,
        default=None,
        help="side SAM encodes the whole photo at (the old system: 1024; default: the export's)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    import torch

    from loadcheck.evaluation.baseline import BaselineError, SingleProcessBaseline
    from loadcheck.evaluation.timing import time_calls
    from loadcheck.synth import render_scene

    torch.set_num_threads(args.threads)
    try:
        baseline = SingleProcessBaseline.load(
            args.export_dir,
            args.repository,
            args.integrator,
            sam_checkpoint=args.sam_checkpoint,
            detector_checkpoint=args.detector_checkpoint,
            sam_img_size=args.sam_img_size,
        )
    except BaselineError as exc:
        parser.error(str(exc))
    images = [render_scene(11, i, args.size).encode_jpeg() for i in range(args.synthetic)]
    result = {
        "pipeline": "baseline: PyTorch SamPredictor + YOLOv6 + features + XGBoost",
        "sam_img_size": baseline.sam_img_size,
        "torch_threads": args.threads,
        **time_calls(baseline, images, args.rounds),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
