"""The benchmarks' shared argparse pieces: value types, ``--models`` and the shipped models,
and opening the served pipeline with errors that name the option."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from loadcheck.demo.data import CHECKOUT, DEFAULT_MODELS_DIR
from loadcheck.pipeline.masks import MaskRefinement

if TYPE_CHECKING:
    from loadcheck.evaluation.served import ServedPipeline

#: Where rendered scenes are cached unless ``--cache`` says otherwise.
DEFAULT_CACHE = CHECKOUT / "runs/eval_cache"


def size_wh(text: str) -> tuple[int, int]:
    """``"960x540"`` -> (960, 540), a size ``loadcheck.synth`` renders."""
    from loadcheck.synth.render import check_size

    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return check_size((w, h))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 960x540: {exc}") from exc


def positive_int(text: str) -> int:
    """An integer >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def unit_fraction(text: str) -> float:
    """A number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _int_list(text: str, example: str) -> tuple[int, ...]:
    """Comma-separated integers, or an ``ArgumentTypeError`` that shows ``example``."""
    try:
        return tuple(int(item) for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as {example}, got {text!r}"
        ) from None


def counts(text: str) -> tuple[int, ...]:
    """``"200,400,800"`` -> (200, 400, 800): positive integers, comma-separated."""
    values = _int_list(text, "200,400,800")
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def seeds(text: str) -> tuple[int, ...]:
    """``"2,3"`` -> (2, 3): distinct integers >= 0, comma-separated."""
    values = _int_list(text, "2,3,4,5")
    if min(values) < 0 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct integers >= 0, got {text!r}")
    return values


def add_models_argument(parser: argparse.ArgumentParser) -> None:
    """``--models``: exported networks + cards (default: :func:`shipped_models`)."""
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder with detector/sam_encoder/sam_decoder ONNX files + *.card.json "
        "(default: the committed demo checkpoints in models/demo, exported once into "
        "runs/demo/demo_models as `loadcheck demo` does)",
    )


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json``, ``--cache``, ``--threads``, ``--mask-refine-radius`` and ``--no-progress``."""
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="rendered scenes are cached here"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    parser.add_argument(
        "--mask-refine-radius",
        type=float,
        default=MaskRefinement().radius,
        help="serving's guided-filter mask refinement, SAM low-res px (0: SAM's plain masks)",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )


def shipped_models(parser: argparse.ArgumentParser) -> Path:
    """The committed demo checkpoints, exported once into ``runs/demo/demo_models`` (as
    ``loadcheck demo`` does); a usage error when there are none."""
    from loadcheck.demo.data import export_shipped_models

    shipped = CHECKOUT / DEFAULT_MODELS_DIR
    models = export_shipped_models(shipped, CHECKOUT / "runs/demo/demo_models")
    if models is None:
        parser.error(f"--models: no trained demo checkpoints in {shipped}")
    return models


def open_pipeline(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ServedPipeline:
    """The served segmentator of ``args.models`` (the shipped models when None) with
    ``--threads`` and ``--mask-refine-radius``; a usage error naming ``--models`` (or the
    refinement option) when it cannot be built."""
    from loadcheck.evaluation.served import ServedPipeline
    from loadcheck.pipeline.cards import CardError
    from loadcheck.pipeline.declaration import DeclarationError, SegmentatorSettings

    try:
        refine = MaskRefinement(radius=args.mask_refine_radius)
    except ValueError as exc:
        parser.error(f"--mask-refine-radius: {exc}")
    if args.models is None:
        args.models = shipped_models(parser)
    try:
        settings = SegmentatorSettings(mask_refine=refine)
        return ServedPipeline.from_networks(args.models, settings, threads=args.threads)
    except (CardError, DeclarationError) as exc:
        parser.error(f"--models: {exc}")
