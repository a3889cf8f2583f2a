"""Synthetic truck-loading scenes with exact ground truth (``loadcheck synth``).

Library API (stable; other components and tests rely on it):

* :func:`render_scene` ``(seed, index, size_wh=(960, 540), **overrides) -> Scene``
* :func:`write_dataset` ``(out, count, seed, size_wh=(960, 540), progress=True) -> DatasetSummary``
* :class:`Scene`, :class:`SynthTruck` (per-truck masks, boxes, fill level, pit depth, label)
* the labelling rule in :mod:`loadcheck.synth.rules`.

Heavy modules load lazily so ``import loadcheck.synth`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadcheck.synth.dataset import DatasetSummary, write_dataset
    from loadcheck.synth.render import render_scene
    from loadcheck.synth.scene import Scene, SynthTruck

__all__ = ["DatasetSummary", "Scene", "SynthTruck", "render_scene", "write_dataset"]

_WHERE = {
    "DatasetSummary": "loadcheck.synth.dataset",
    "write_dataset": "loadcheck.synth.dataset",
    "render_scene": "loadcheck.synth.render",
    "Scene": "loadcheck.synth.scene",
    "SynthTruck": "loadcheck.synth.scene",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'loadcheck.synth' has no attribute {name!r}")
