"""``loadcheck demo``: render scenes, serve, fit through the served segmentator, inspect, report."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from loadcheck.demo.runner import (
    DEFAULT_FIT_COUNT,
    DEFAULT_OUT,
    DEFAULT_TEST_COUNT,
    QUICK_FIT_COUNT,
    QUICK_TEST_COUNT,
)


def _echo(line: str) -> None:
    typer.echo(line)
    sys.stdout.flush()


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def parse_style_option(text: str) -> tuple[str, ...]:
    """``--style`` -> style names (:func:`loadcheck.synth.styles.parse_styles`); a bad value is a
    :class:`typer.BadParameter` naming the option and the known styles (exit 2)."""
    from loadcheck.synth.styles import parse_styles

    try:
        return parse_styles(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--style") from exc


def demo_command(
    out: Path = typer.Option(
        DEFAULT_OUT,
        "--out",
        help="Output folder (scenes, repository, workspace, overlays, report).",
    ),
    models: Path | None = typer.Option(
        None,
        "--models",
        help="Exported models + cards to serve (default: models/demo; when it does not exist, "
        "untrained tiny placeholder models).",
    ),
    fit_count: int | None = typer.Option(
        None,
        "--fit-count",
        help=f"Fitting scenes (default {DEFAULT_FIT_COUNT}; --quick {QUICK_FIT_COUNT}).",
    ),
    test_count: int | None = typer.Option(
        None,
        "--test-count",
        help=f"Held-out scenes (default {DEFAULT_TEST_COUNT}; --quick {QUICK_TEST_COUNT}).",
    ),
    quick: bool = typer.Option(False, "--quick", help="A handful of images (CI smoke run)."),
    keep_serving: bool = typer.Option(
        False, "--keep-serving", help="Keep Triton serving the demo integrator until Ctrl-C."
    ),
    seed: int = typer.Option(1, "--seed", help="Fitting scenes' seed; held-out scenes: seed+1."),
    masks_fit: bool = typer.Option(
        False,
        "--masks-fit",
        help="Fit with the true synthetic masks instead of the served segmentator (shows the "
        "scorer alone).",
    ),
    http_port: int = typer.Option(0, "--http-port", help="Triton HTTP port (0: a free one)."),
    grpc_port: int = typer.Option(0, "--grpc-port", help="Triton gRPC port (0: a free one)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
    style: str = typer.Option(
        "classic",
        "--style",
        help="Scene style of the fitting and held-out scenes: classic, quarry, night, dust; "
        "several comma-separated (scene i in style i mod n) or 'all'. With several, the report "
        "gives the accuracy per style too.",
    ),
) -> None:
    """The main job on built-in defaults: synthetic scenes -> Triton -> fit the 'demo'
    integrator through the served segmentator -> deploy -> inspect held-out scenes -> report."""
    from loadcheck.demo.data import DemoError
    from loadcheck.demo.report import summary_text
    from loadcheck.demo.runner import DemoOptions, run_demo
    from loadcheck.integrators.errors import IntegratorError
    from loadcheck.scoring.fit import FitError
    from loadcheck.serving.deploy import DeployError
    from loadcheck.serving.repository import RepositoryError
    from loadcheck.serving.server import TritonStartError

    styles = parse_style_option(style)
    try:
        options = DemoOptions(
            out_dir=out,
            models=models,
            fit_count=_or_default(fit_count, QUICK_FIT_COUNT if quick else DEFAULT_FIT_COUNT),
            test_count=_or_default(test_count, QUICK_TEST_COUNT if quick else DEFAULT_TEST_COUNT),
            seed=seed,
            masks_fit=masks_fit,
            keep_serving=keep_serving,
            http_port=http_port,
            grpc_port=grpc_port,
            cv_folds=3 if quick else 5,
            progress=progress,
            styles=styles,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if models is not None and not models.is_dir():
        raise typer.BadParameter(f"{models} is not a folder", param_hint="--models")
    try:
        run_demo(options, _echo, lambda report: _echo("\n" + summary_text(report)))
    except KeyboardInterrupt:
        typer.echo("interrupted: Triton stopped", err=True)
        raise typer.Exit(130) from None
    except (
        DemoError,
        RepositoryError,
        TritonStartError,
        IntegratorError,
        FitError,
        DeployError,
        OSError,
    ) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
