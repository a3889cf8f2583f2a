"""JSON and report helpers shared by the evaluations: the machine line, the JSON file, the
``loadcheck demo`` report's accuracy, a progress bar and the tables' number format."""

from __future__ import annotations

import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)


def machine() -> str:
    """``"<arch> <n> CPUs, <python version>"``, recorded beside every timing."""
    return f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}"


def write_json(path: Path, result: dict[str, Any]) -> Path:
    """Write ``result`` to ``path`` as indented JSON (folders created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    LOGGER.info("wrote %s", path)
    return path


def conclude(table: str, result: dict[str, Any], json_path: Path | None) -> str:
    """A benchmark's closing text: its ``table``, and a line naming the JSON file ``result`` was
    written to (when ``json_path`` is given)."""
    if json_path is None:
        return table
    return f"{table}\nwrote {write_json(json_path, result)}"


def read_demo_report(path: Path | None) -> dict[str, Any] | None:
    """Accuracy facts of ``loadcheck demo``'s ``report.json``; ``None`` when absent."""
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        "report": str(path),
        "accuracy": data.get("accuracy"),
        "chance_accuracy": data.get("chance_accuracy"),
        "test": data.get("test"),
        "placeholder_models": data.get("placeholder_models"),
    }


def progress_bar(enabled: bool) -> Any:
    """A ``rich`` progress bar (a context manager; shows nothing when not ``enabled``)."""
    from rich.progress import Progress

    return Progress(disable=not enabled)


def fmt(value: float | None) -> str:
    """A figure of a table: 3 decimals in 6 characters, ``n/a`` for ``None``."""
    return "   n/a" if value is None else f"{value:6.3f}"
