"""What both trainers share: errors, seeding, device choice, progress bar and the JSON log."""

from __future__ import annotations

import json
import logging
import os
import random
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadcheck.atomic import atomic_write_text

if TYPE_CHECKING:
    import torch
    from rich.progress import Progress

logger = logging.getLogger(__name__)

LOG_FORMAT_VERSION = 1


class TrainError(ValueError):
    """A training input (data folder, checkpoint, setting) is unusable; the message says what
    was wrong and what is expected."""


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and PyTorch's generators (CPU and CUDA)."""
    import numpy as np
    import torch

    if not 0 <= seed < 2**32:
        raise TrainError(f"seed: expected an integer in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``), else CUDA when available."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise TrainError(f"device: {exc}; expected e.g. 'cpu' or 'cuda'") from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise TrainError(f"device {device!r}: CUDA is not available on this machine; use 'cpu'")
    return chosen


def backward(loss: torch.Tensor, device: torch.device) -> None:
    """``loss.backward()``, on CPU with oneDNN (mkldnn) convolution kernels off.

    PyTorch 2.14.1's oneDNN convolution backward (``mkldnn_convolution_backward_weights``)
    corrupts the heap on this machine for some YOLOv6 batches ("double free or corruption",
    reproducible, heap-layout dependent); the native backward kernels are correct. The forward
    pass keeps oneDNN (its native fallback is ~10x slower): a YOLOv6-n step at width 0.125,
    batch 16, 320 px takes 0.58 s this way against 0.35 s all-oneDNN and 4.9 s all-native.
    """
    import torch

    if device.type != "cpu":
        loss.backward()
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"TF32 acceleration on top of oneDNN")
        with torch.backends.mkldnn.flags(enabled=False):
            loss.backward()


def make_progress(title: str, enabled: bool = True) -> Progress:
    """A rich progress bar: title, bar, step M/N, the latest losses, elapsed and remaining time.

    Update the losses with ``progress.update(task, advance=1, losses="loss 0.53 dice 0.21")``.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{title}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def format_losses(losses: dict[str, float]) -> str:
    """``{"loss": 0.5312, "iou": 0.2}`` -> ``"loss 0.531 iou 0.200"``."""
    return " ".join(f"{k} {v:.3f}" for k, v in losses.items())


@dataclass
class TrainingLog:
    """The small JSON log written beside a checkpoint (``training_log.json``).

    Attributes:
        kind: ``"detector"`` or ``"sam"``.
        settings: the run's settings (JSON-serialisable), enough to repeat it.
        device: where it ran (``"cpu"``, ``"cuda"``).
        torch_threads: PyTorch intra-op threads used.
        steps: optimiser steps done so far (over all resumed runs).
        epochs: per-epoch records (detector) or per-interval records (SAM), each a dict
            with the mean losses over that span and ``elapsed_s`` (seconds since the run started).
        elapsed_s: wall-clock seconds of training (over all resumed runs).
        checkpoint: file name of the exportable checkpoint.
    """

    kind: str
    settings: dict[str, Any]
    device: str
    torch_threads: int
    steps: int = 0
    epochs: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    checkpoint: str = ""
    format_version: int = LOG_FORMAT_VERSION

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the log as JSON, atomically (temp file + rename)."""
        return write_json_atomic(path, asdict(self))


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON to ``path`` via a temp file, fsync and rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, json.dumps(data, indent=1, sort_keys=False) + "\n")
    return target


def prepare_out_dir(out: str | os.PathLike[str]) -> Path:
    """Create ``out`` (a folder) or raise :class:`TrainError` when it is a file or unwritable."""
    target = Path(out).expanduser()
    if target.exists() and not target.is_dir():
        raise TrainError(f"out: {target} exists and is not a folder; expected a folder path")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainError(f"out: cannot create {target}: {exc}") from exc
    return target


def require_data_dir(data: str | os.PathLike[str]) -> Path:
    """``data`` as a Path, or :class:`TrainError` when it is not an existing folder."""
    root = Path(data).expanduser()
    if not root.is_dir():
        raise TrainError(
            f"data: {root} is not an existing folder; expected a dataset folder such as the "
            "output of 'loadcheck synth --out DIR'"
        )
    return root


def mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of loss dicts (empty input -> empty dict)."""
    if not rows:
        return {}
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
