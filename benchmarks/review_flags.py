"""How many photos "needs review" flags, and how many of the wrong verdicts it catches.

    python benchmarks/review_flags.py [--models EXPORT_DIR] [--fit-count 300] [--test-count 300]
        [--fit-seed 1] [--test-seed 2] [--fit-styles classic] [--test-styles STYLES]
        [--max-flagged 0.15] [--json OUT] [--cache DIR]

Serves ``--fit-count`` scenes of ``--fit-seed`` and ``--test-count`` of ``--test-seed`` through
the segmentator's own steps in-process (the shipped demo models by default), fits an integrator
on the fitting scenes (loadcheck's defaults), chooses the review thresholds on the fitting
scenes' out-of-fold verdicts (the most wrong verdicts caught with at most ``--max-flagged`` of the
photos flagged; ``loadcheck.evaluation.review_flags.GRID``; and with the bed, load and confidence
checks kept on, at most ``--max-flagged-keeping-checks``: how the defaults were chosen), and
reports on the test scenes, with the chosen and with the default thresholds: accuracy, share of
photos flagged, share of wrong verdicts flagged and the count of each reason. Served scenes are
kept as JSON in the cache folder, so a second run only re-fits and re-judges.

``--fit-styles`` / ``--test-styles`` (comma-separated scene styles or ``all``; default
``classic``, the test styles defaulting to the fitting ones): the fitting scenes are drawn from
the fitting styles and the test scenes from the test styles, scene ``i`` in ``styles[i % n]`` (as
``benchmarks/cross_style.py`` draws them). With several test styles the test figures are also
reported per test style (``test_per_style``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments
from loadcheck.evaluation.cross_style import styled_scenes
from loadcheck.evaluation.report import conclude, machine, progress_bar, write_json
from loadcheck.evaluation.review_flags import (
    GRID_KEEPING_CHECKS,
    ScoredScene,
    choose_settings,
    figures,
    figures_by_style,
    fitted_and_judged,
    out_of_fold,
    scene_from_json,
    scene_to_json,
    serve_scene,
)
from loadcheck.evaluation.scenes import scene_folder
from loadcheck.scoring.review import ReviewSettings
from loadcheck.synth.styles import parse_styles


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    arguments.add_models_argument(p)
    p.add_argument("--fit-seed", type=int, default=1)
    p.add_argument("--fit-count", type=arguments.positive_int, default=300)
    p.add_argument("--test-seed", type=int, default=2)
    p.add_argument("--test-count", type=arguments.positive_int, default=300)
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument(
        "--fit-styles",
        default="classic",
        help="fitting scenes' styles: comma-separated names or 'all' (scene i in style i mod n)",
    )
    p.add_argument(
        "--test-styles",
        default=None,
        help="test scenes' styles: comma-separated names or 'all' (default: --fit-styles)",
    )
    p.add_argument("--max-flagged", type=float, default=0.15, help="share of photos flagged")
    p.add_argument(
        "--max-flagged-keeping-checks",
        type=float,
        default=0.25,
        help="share of photos flagged when the bed/load/confidence checks stay on (the defaults)",
    )
    p.add_argument("--cache", type=Path, default=Path("runs/eval_cache"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-progress", action="store_true")
    return p


def _parsed_styles(parser: argparse.ArgumentParser, option: str, text: str) -> tuple[str, ...]:
    try:
        return parse_styles(text)
    except ValueError as exc:
        parser.error(f"{option}: {exc}")


def styles_of(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fitting styles, test styles) of ``--fit-styles`` / ``--test-styles`` (the test styles
    default to the fitting ones); a bad name, or fewer scenes than styles, exits with status 2
    naming the option."""
    fit = _parsed_styles(parser, "--fit-styles", args.fit_styles)
    test = (
        fit
        if args.test_styles is None
        else _parsed_styles(parser, "--test-styles", args.test_styles)
    )
    for option, count, styles in (
        ("--fit-count", args.fit_count, fit),
        ("--test-count", args.test_count, test),
    ):
        if count < len(styles):
            parser.error(
                f"{option}: got {count}, expected at least one scene per style ({len(styles)})"
            )
    return fit, test


def _models_key(models: Path) -> str:
    """Short hash of the networks' model cards (each names its ONNX file's sha256): two export
    folders with the same name (``.../onnx``) but other weights never share served scenes."""
    digest = hashlib.sha256()
    for card in sorted(models.glob("*.card.json")):
        digest.update(card.name.encode() + card.read_bytes())
    return digest.hexdigest()[:12]


def _serve(
    runner: Any,
    args: argparse.Namespace,
    seed: int,
    count: int,
    styles: tuple[str, ...],
    bar: Any,
) -> list:
    """Scenes ``0 .. count-1`` of ``seed`` (scene ``i`` in ``styles[i % n]``) served, kept in the
    cache folder of the first style as JSON (keyed by the models' cards, seed, count, size and,
    with several, the styles) and read back from there on the next run."""
    folder = scene_folder(args.cache, seed, args.size, styles[0])
    several = f"_{'-'.join(styles)}" if len(styles) > 1 else ""
    kept = folder / f"review_evidence_{_models_key(Path(args.models))}_{count}{several}.json"
    if kept.is_file():
        return [scene_from_json(d) for d in json.loads(kept.read_text())]
    task = bar.add_task(f"seed {seed} {','.join(styles)}", total=count)
    out: list[ScoredScene] = []
    for scene in styled_scenes(args.cache, seed, count, args.size, styles):
        out.append(serve_scene(runner, scene.jpeg, scene.label))
        bar.advance(task)
    write_json(kept, [scene_to_json(s) for s in out])  # type: ignore[arg-type]
    return out


def _row(name: str, fig: dict[str, Any]) -> str:
    return (
        f"{name:<28} acc {fig['accuracy']:.3f}  flagged {fig['flagged_share']:.3f} "
        f"({fig['flagged']}/{fig['scenes']})  wrong flagged "
        f"{fig['wrong_flagged_share'] if fig['wrong_flagged_share'] is not None else '-'} "
        f"({fig['wrong_flagged']}/{fig['wrong']})"
    )


def _style_rows(per_style: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The printed rows of each test style: chosen, keeping the checks, defaults, reasons."""
    rows = []
    for style, fig in per_style.items():
        rows += [
            _row(f"test {style}, chosen", fig["test_chosen"]),
            _row(f"test {style}, keeping checks", fig["test_chosen_keeping_checks"]),
            _row(f"test {style}, defaults", fig["test_defaults"]),
            f"  reasons ({style}, chosen): {fig['test_chosen']['reasons']}; of wrong verdicts: "
            f"{fig['test_chosen']['reasons_of_wrong']}",
        ]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fit_styles, test_styles = styles_of(parser, args)
    from loadcheck.pipeline.runner import PipelineRunner

    models = args.models = args.models or arguments.shipped_models(parser)
    runner = PipelineRunner.from_networks(models)
    began = time.perf_counter()
    with progress_bar(not args.no_progress) as bar:
        fit = _serve(runner, args, args.fit_seed, args.fit_count, fit_styles, bar)
        test = _serve(runner, args, args.test_seed, args.test_count, test_styles, bar)
    served_s = time.perf_counter() - began
    fit_oof = out_of_fold(fit)
    chosen, fit_fig = choose_settings(fit_oof, args.max_flagged)
    kept, kept_fig = choose_settings(fit_oof, args.max_flagged_keeping_checks, GRID_KEEPING_CHECKS)
    test_judged = fitted_and_judged(fit, test)
    result: dict[str, Any] = {
        "machine": machine(),
        "models": str(models),
        "fit": {"seed": args.fit_seed, "count": args.fit_count, "styles": list(fit_styles)},
        "test": {"seed": args.test_seed, "count": args.test_count, "styles": list(test_styles)},
        "serve_seconds": round(served_s, 1),
        "chosen_on_fit_out_of_fold": {"settings": chosen.to_json(), "figures": fit_fig},
        "test_chosen": figures(test_judged, chosen),
        "chosen_keeping_checks_on_fit_out_of_fold": {
            "settings": kept.to_json(),
            "figures": kept_fig,
        },
        "test_chosen_keeping_checks": figures(test_judged, kept),
        "test_defaults": {
            "settings": ReviewSettings().to_json(),
            "figures": figures(test_judged, ReviewSettings()),
        },
    }
    rows = []
    if len(test_styles) > 1:
        result["test_per_style"] = per_style = figures_by_style(
            test_judged,
            test_styles,
            {
                "test_chosen": chosen,
                "test_chosen_keeping_checks": kept,
                "test_defaults": ReviewSettings(),
            },
        )
        rows = _style_rows(per_style)
    table = "\n".join(
        [
            f"fitting styles {','.join(fit_styles)}; test styles {','.join(test_styles)}",
            f"chosen on seed {args.fit_seed} (out of fold): {chosen.to_json()}",
            _row("fit, out of fold, chosen", fit_fig),
            _row("test, chosen", result["test_chosen"]),
            f"chosen keeping the checks on: {kept.to_json()}",
            _row("fit, out of fold, keeping", kept_fig),
            _row("test, keeping the checks", result["test_chosen_keeping_checks"]),
            _row("test, defaults", result["test_defaults"]["figures"]),
            f"reasons (test, chosen): {result['test_chosen']['reasons']}",
            f"reasons of wrong verdicts: {result['test_chosen']['reasons_of_wrong']}",
            *rows,
            f"served {args.fit_count + args.test_count} scenes in {served_s:.0f} s on {machine()}",
        ]
    )
    print(conclude(table, result, args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
