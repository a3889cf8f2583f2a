"""Leave-one-style-out: served verdict accuracy, detector recall and mask IoU per held-out style.

    python benchmarks/cross_style.py --folds-dir runs/cross_style [--styles all]
    python benchmarks/cross_style.py --fold quarry=runs/cross_style/quarry/onnx --fold ...
    python benchmarks/cross_style.py --models EXPORT_DIR [--styles classic] [--train-styles S]
        [--fit-seed 1] [--fit-count 400] [--test-seed 2] [--test-count 200] [--size 960x540]
        [--quick] [--json OUT] [--cache DIR] [--threads N] [--no-progress]

A fold is a style held out and the exported networks trained without it (``--fold STYLE=DIR``,
or ``--folds-dir DIR`` with ``DIR/<style>/onnx`` per style of ``--styles``, as
``scripts/train_cross_style.sh`` writes). For each fold the held-out style's scenes are served
in-process through the served segmentator's own steps; an integrator with loadcheck's defaults
is fitted on served fitting scenes of the fold's training styles (``loadcheck.evaluation.
cross_style``). ``--models DIR`` tests one export folder on each style of ``--styles`` with the
integrator fitted on that same style (an in-style check), or on ``--train-styles`` (the styles the
networks were trained on: ``--models <demo> --train-styles classic --styles quarry,night,dust``
measures the demo models, trained on classic scenes, on the other styles). ``--quick``: 16
fitting and 6 test scenes at 320x180 (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments
from loadcheck.evaluation.cross_style import (
    CrossStyleRun,
    Fold,
    evaluate,
    format_table,
    leave_one_out,
)
from loadcheck.evaluation.report import conclude


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--fold",
        action="append",
        default=[],
        metavar="STYLE=DIR",
        help="a held-out style and the export folder of networks trained without it (repeat)",
    )
    p.add_argument(
        "--folds-dir", type=Path, default=None, help="folds in DIR/<style>/onnx per --styles"
    )
    p.add_argument(
        "--models", type=Path, default=None, help="one export folder: in-style check per --styles"
    )
    p.add_argument("--styles", default="all", help="styles: comma-separated names or 'all'")
    p.add_argument(
        "--train-styles",
        default=None,
        help="with --models: the styles the integrator is fitted on (default: each tested style)",
    )
    p.add_argument("--fit-seed", type=int, default=1, help="fitting scenes' seed")
    p.add_argument("--fit-count", type=arguments.positive_int, default=400, help="fitting scenes")
    p.add_argument("--test-seed", type=int, default=2, help="held-out scenes' seed")
    p.add_argument(
        "--test-count", type=arguments.positive_int, default=200, help="scenes per held-out style"
    )
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument(
        "--quick", action="store_true", help="16 fitting, 6 test scenes at 320x180 (smoke run)"
    )
    arguments.add_serving_arguments(p)
    return p


def _folds(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[Fold, ...]:
    from loadcheck.synth.styles import parse_styles

    try:
        styles = parse_styles(args.styles)
    except ValueError as exc:
        parser.error(f"--styles: {exc}")
    given = sum(bool(x) for x in (args.fold, args.folds_dir, args.models))
    if given != 1:
        parser.error("--fold / --folds-dir / --models: give exactly one way to name the models")
    folds: list[Fold] = []
    try:
        if args.train_styles is not None and args.models is None:
            parser.error("--train-styles: only with --models (folds fit on their other styles)")
        if args.models is not None:
            trained = parse_styles(args.train_styles) if args.train_styles else None
            folds = [Fold(s, args.models, trained or (s,)) for s in styles]
        elif args.folds_dir is not None:
            folds = [leave_one_out(s, args.folds_dir / s / "onnx") for s in styles]
        else:
            for text in args.fold:
                style, sep, folder = text.partition("=")
                if not sep or not folder:
                    parser.error(f"--fold: got {text!r}, expected STYLE=DIR")
                folds.append(leave_one_out(style.strip(), Path(folder)))
    except ValueError as exc:
        parser.error(f"--fold / --train-styles: {exc}")
    for fold in folds:
        if not fold.models.is_dir():
            parser.error(
                f"--fold {fold.held_out}: {fold.models} is not a folder of exported networks"
            )
    return tuple(folds)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fit_seed < 0 or args.test_seed < 0:
        parser.error("--fit-seed / --test-seed: expected integers >= 0")
    if args.fit_seed == args.test_seed:
        parser.error("--test-seed: must differ from --fit-seed (held-out scenes)")
    if args.quick:
        args.fit_count, args.test_count, args.size = 16, 6, (320, 180)
    folds = _folds(parser, args)
    run = CrossStyleRun(
        folds=folds,
        fit_seed=args.fit_seed,
        fit_count=args.fit_count,
        test_seed=args.test_seed,
        test_count=args.test_count,
        size_wh=args.size,
        cache=args.cache,
        progress=args.progress,
    )

    def open_pipeline(models: Path) -> Any:
        args.models = models
        return arguments.open_pipeline(parser, args)

    result = evaluate(run, open_pipeline)
    print(conclude(format_table(result), result, args.json))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
