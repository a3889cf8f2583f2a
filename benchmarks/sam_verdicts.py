"""Verdict accuracy and rim error of a SAM training checkpoint, prompted with the true boxes.

    python benchmarks/sam_verdicts.py CHECKPOINT [--model-type vit_tiny] [--img-size 512]
        [--fit-seed 1 --fit-count 200] [--test-seed 2 --test-count 300] [--json OUT]

For comparing SAM training recipes without the detector and without an ONNX export: the
checkpoint's PyTorch modules (CUDA when present, as the ``python-torch`` runtime serves them) run
between the served ``prompts`` and ``masks`` steps, prompted with each scene's **true** boxes, so
a difference between two checkpoints is SAM's alone (``loadcheck.evaluation.checkpoint_verdicts``):
verdict accuracy with its 95 % Wilson interval, the rim error of the scored trucks in bed heights,
and their bed and load mask IoU. ``benchmarks/sam_sweep.sh`` trains recipe variants and runs
this on each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments
from loadcheck.evaluation.checkpoint_verdicts import CheckpointRun, evaluate, format_summary
from loadcheck.evaluation.report import conclude


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="sam.pth of `loadcheck train sam`")
    p.add_argument("--model-type", default="vit_tiny", help="SAM type of the checkpoint")
    p.add_argument("--img-size", type=arguments.positive_int, default=512, help="SAM input side S")
    p.add_argument("--fit-seed", type=int, default=1, help="fitting scenes' seed")
    p.add_argument("--fit-count", type=arguments.positive_int, default=200, help="fitting scenes")
    p.add_argument("--test-seed", type=int, default=2, help="test scenes' seed")
    p.add_argument("--test-count", type=arguments.positive_int, default=300, help="test scenes")
    p.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    p.add_argument(
        "--cache", type=Path, default=arguments.DEFAULT_CACHE, help="rendered scenes cache"
    )
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.error(f"checkpoint: {args.checkpoint} is not a file")
    if min(args.fit_seed, args.test_seed) < 0 or args.fit_seed == args.test_seed:
        parser.error("--fit-seed / --test-seed: expected two different integers >= 0")
    run = CheckpointRun(
        checkpoint=args.checkpoint,
        model_type=args.model_type,
        img_size=args.img_size,
        fit_seed=args.fit_seed,
        fit_count=args.fit_count,
        test_seed=args.test_seed,
        test_count=args.test_count,
        cache=args.cache,
    )
    result = evaluate(run)
    print(conclude(format_summary(result), result, args.json))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
