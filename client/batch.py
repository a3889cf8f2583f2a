"""The batch run behind ``loadcheck inspect``: inspect, write overlays, write the results."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rich.console import Console

from loadcheck.client.async_client import AsyncInspectionClient, BatchItem
from loadcheck.client.errors import InspectionError, TransientError
from loadcheck.client.formats import OutputFormat, results_table, write_csv, write_json
from loadcheck.client.images import ImageSource, SourceReader
from loadcheck.client.overlay import render_overlay, write_overlay

logger = logging.getLogger(__name__)

#: Called with each inspected item and its image's bytes (``inspect --record``); must not block.
ResultHook = Callable[[BatchItem, bytes], None]


def overlay_path(directory: Path, item: BatchItem) -> Path:
    """``<dir>/<index, 5 digits>_<image stem>.png`` (the index keeps zip duplicates apart)."""
    return directory / f"{item.index:05d}_{item.source.stem}.png"


def _write_overlay(reader: SourceReader, directory: Path, item: BatchItem) -> None:
    if item.result is None:
        return
    rgb = render_overlay(reader.read(item.source), item.result)
    write_overlay(str(overlay_path(directory, item)), rgb)


async def run_batch(
    client: AsyncInspectionClient,
    sources: list[ImageSource],
    integrator: str,
    *,
    concurrency: int,
    overlays: Path | None = None,
    progress: bool = True,
    on_result: ResultHook | None = None,
) -> list[BatchItem]:
    """Inspect ``sources``; returns the items in input order, writes overlays if asked, hands
    each inspected item with its image's bytes to ``on_result``, and closes the client.

    Raises:
        TransientError: no ready server answers (checked once before the batch).
        ModelNotFoundError: the integrator is not deployed.
    """
    items: list[BatchItem] = []
    try:
        if not await client.ready():
            raise TransientError(f"no ready Triton server answers at {client.url}")
        with SourceReader() as reader:
            async for item in client.inspect_many(
                sources,
                integrator,
                concurrency=concurrency,
                masks=overlays is not None,
                progress=progress,
                console=Console(stderr=True),
            ):
                items.append(item)
                if overlays is not None and item.ok:
                    try:
                        await asyncio.to_thread(_write_overlay, reader, overlays, item)
                    except (OSError, InspectionError) as exc:
                        logger.warning("overlay of %s not written: %s", item.source.label, exc)
                if on_result is not None and item.ok:
                    try:
                        image = await asyncio.to_thread(reader.read, item.source)
                    except (OSError, InspectionError) as exc:
                        logger.warning("%s not recorded: %s", item.source.label, exc)
                    else:
                        on_result(item, image)
    finally:
        await client.close()
    return sorted(items, key=lambda i: i.index)


def write_results(items: list[BatchItem], fmt: OutputFormat, out: TextIO, *, color: bool) -> None:
    """Write ``items`` to ``out`` as a table, JSON or CSV."""
    if fmt is OutputFormat.JSON:
        write_json(items, out)
    elif fmt is OutputFormat.CSV:
        write_csv(items, out)
    else:
        console = Console(file=out, no_color=not color, width=None if color else 200)
        console.print(results_table(items))
