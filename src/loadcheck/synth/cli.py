"""``loadcheck synth`` (work in progress)."""

from __future__ import annotations

import typer


def synth_command(
    count: int = typer.Option(200, "--count", help="Number of scenes."),
) -> None:
    """Render synthetic truck-loading scenes."""
    raise typer.Exit(1)
