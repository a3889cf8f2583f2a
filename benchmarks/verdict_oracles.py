"""Which mask costs the verdicts: accuracy with the served masks vs. the true bed / load masks.

    python benchmarks/verdict_oracles.py [--models EXPORT_DIR] [--fit-seed 1] [--fit-count 800]
        [--test-seed 2[,3,4,5]] [--test-count 300] [--fit-curve 200,400,800]
        [--prompts detector|true-boxes|truth] [--size 960x540] [--json OUT] [--cache DIR]
        [--compare EARLIER.json]

Every scene is served by the served segmentator's own steps in-process (``loadcheck.pipeline``,
the ONNX networks of ``--models``: detector prompts at the served threshold, SAM on the crop,
``group_trucks``). The truck serving scores is paired with the true truck whose bed overlaps it
most and four versions of it are scored: ``served``, ``true_bed``, ``true_load``, ``true_both``
(``loadcheck.evaluation.oracles``). For each version an integrator with loadcheck's defaults is
fitted on the fitting scenes and tested on the test scenes; printed: verdict accuracy with its
95 % Wilson interval (300 scenes: about +-3.5 points; ``--test-seed 2,3,4,5``: 1,200 scenes, about
+-1.6 points, and the served accuracy per seed). The gap between ``served`` and a ``true_*`` row
is what that mask costs. ``--fit-curve N1,N2,..`` also fits ``served`` and ``true_both`` on the
first N fitting scenes only (``loadcheck demo`` fits on 800). ``--prompts`` asks what the
detector costs: ``detector`` (as served), ``true-boxes`` (matched detections replaced by their
true boxes) or ``truth`` (the true boxes only). ``--json`` writes every figure, with each test
scene's served verdict right or wrong (``served_right``).

``--compare EARLIER.json`` pairs this run's served verdicts with an earlier ``--json`` of the same
test scenes: scenes gained and lost, and the exact two-sided McNemar p-value of the difference.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments
from loadcheck.evaluation.oracles import PROMPT_SOURCES
from loadcheck.evaluation.report import conclude
from loadcheck.evaluation.significance import paired_comparison
from loadcheck.evaluation.verdict_accuracy import (
    OracleRun,
    evaluate,
    format_table,
    load_comparison_flags,
    scenes_tested,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    arguments.add_models_argument(p)
    p.add_argument("--fit-seed", type=int, default=1, help="fitting scenes' seed (demo: 1)")
    p.add_argument(
        "--fit-count", type=arguments.positive_int, default=800, help="fitting scenes (demo: 800)"
    )
    p.add_argument(
        "--test-seed",
        type=arguments.seeds,
        default=(2,),
        help="test scenes' seed, or comma-separated seeds (demo: 2; 2,3,4,5: 1,200 scenes)",
    )
    p.add_argument("--test-count", type=arguments.positive_int, default=300, help="test scenes")
    p.add_argument(
        "--fit-curve",
        type=arguments.counts,
        default=(),
        help="comma-separated fitting-set sizes, each <= --fit-count: accuracy vs. labelled photos",
    )
    p.add_argument(
        "--prompts",
        choices=PROMPT_SOURCES,
        default="detector",
        help="SAM's prompts: the detector's (as served), its matched boxes replaced by the true "
        "boxes, or the true boxes only",
    )
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="an earlier --json run of the same test scenes: scenes gained / lost, McNemar p",
    )
    arguments.add_serving_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fit_seed < 0:
        parser.error("--fit-seed: expected an integer >= 0")
    if args.fit_seed in args.test_seed:
        parser.error("--test-seed: must differ from --fit-seed (held-out scenes)")
    if any(n > args.fit_count for n in args.fit_curve):
        parser.error(f"--fit-curve: every size must be <= --fit-count ({args.fit_count})")
    earlier: list[bool] | None = None
    if args.compare is not None:
        scenes = scenes_tested(args.test_seed, args.test_count, args.size)
        try:
            earlier = load_comparison_flags(args.compare, scenes)
        except ValueError as exc:
            parser.error(f"--compare: {exc}")
    pipeline = arguments.open_pipeline(parser, args)
    run = OracleRun(
        models=args.models,
        fit_seed=args.fit_seed,
        fit_count=args.fit_count,
        test_seeds=args.test_seed,
        test_count=args.test_count,
        fit_curve=args.fit_curve,
        prompts=args.prompts,
        size_wh=args.size,
        cache=args.cache,
        progress=args.progress,
    )
    result = evaluate(run, pipeline)
    if earlier is not None:
        now = [bool(flag) for flag in result["served_right"]]
        result["comparison"] = {"earlier": str(args.compare), **paired_comparison(earlier, now)}
    print(conclude(format_table(result), result, args.json))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
