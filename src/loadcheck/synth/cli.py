"""``loadcheck synth``: write a synthetic truck-loading dataset."""

from __future__ import annotations

import re
from pathlib import Path

import typer

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """``"960x540"`` -> ``(960, 540)``; raises :class:`typer.BadParameter` on anything else."""
    from loadcheck.synth.render import MAX_SIZE, MIN_SIZE

    match = _SIZE.match(text)
    if not match:
        raise typer.BadParameter(
            f"got {text!r}, expected WIDTHxHEIGHT in pixels such as 960x540", param_hint="--size"
        )
    w, h = int(match.group(1)), int(match.group(2))
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise typer.BadParameter(
            f"got {w}x{h}, expected width and height in [{MIN_SIZE}, {MAX_SIZE}] pixels",
            param_hint="--size",
        )
    return w, h


def synth_command(
    count: int = typer.Option(200, "--count", help="Number of scenes to render (>= 0)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0); same seed, same files."),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output folder: new, empty, or an earlier output of this command (replaced).",
    ),
    size: str = typer.Option("960x540", "--size", help="Image size WIDTHxHEIGHT in pixels."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    style: str = typer.Option(
        "classic",
        "--style",
        help="Scene style: classic, quarry, night, dust; several comma-separated (scene i in "
        "style i mod n) or 'all'. Labels never depend on the style.",
    ),
) -> None:
    """Render synthetic truck-loading scenes with exact masks, labels, YOLO boxes and the
    legacy qualified/unqualified fitting zips."""
    if count < 0:
        raise typer.BadParameter(f"got {count}, expected an integer >= 0", param_hint="--count")
    if not 0 <= seed < 2**63:
        raise typer.BadParameter(
            f"got {seed}, expected an integer in [0, 2**63)", param_hint="--seed"
        )
    size_wh = parse_size(size)

    from loadcheck.synth.dataset import DatasetError, write_dataset
    from loadcheck.synth.styles import parse_styles

    try:
        styles = parse_styles(style)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--style") from exc
    try:
        summary = write_dataset(out, count, seed, size_wh, progress=progress, styles=styles)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from exc
    labels = ", ".join(f"{k}: {v}" for k, v in summary.labels.items()) or "none"
    typer.echo(
        f"wrote {summary.count} scenes to {summary.out_dir} "
        f"({summary.images_per_s:.1f} images/s); labels: {labels}"
    )
