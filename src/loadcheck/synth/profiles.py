"""Height profiles of the load along the bed, one generator per load shape.

A profile is float64 ``[PROFILE_STATIONS]``: the height of the load's top at equally spaced
stations from the front (cab end) to the back of the bed, in bed heights (0 = floor, 1 = rim,
above 1 = heaped above the rim, capped at :data:`MAX_HEAP`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Final

import numpy as np

PROFILE_STATIONS: Final = 96
MAX_HEAP: Final = 1.45
"""Highest load top, in bed heights (a heap may rise 0.45 bed heights above the rim)."""


class LoadShape(StrEnum):
    HEAPED = "heaped"  # heaped above the rim
    LEVEL_FULL = "level_full"  # level with the rim
    UNDER_FILLED = "under_filled"  # level or gently curved, well below the rim
    PITTED = "pitted"  # hollows in the top
    ONE_SIDED = "one_sided"  # front/back imbalance
    EMPTY = "empty"  # no load at all


LOAD_SHAPES: tuple[str, ...] = tuple(s.value for s in LoadShape)

_U = np.linspace(0.0, 1.0, PROFILE_STATIONS)


def _roughness(rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Small smooth ripples (a few sinusoids) of peak amplitude about ``amplitude``."""
    out = np.zeros(PROFILE_STATIONS)
    for _ in range(3):
        freq = rng.uniform(2.0, 9.0)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        out += np.sin(2.0 * np.pi * freq * _U + phase)
    return out * (amplitude / 3.0)


def _end_slump(rng: np.random.Generator) -> np.ndarray:
    """How much a heap slumps towards the front and back walls (0 in the middle, 1 at the ends)."""
    width = rng.uniform(0.08, 0.2)
    d = np.minimum(_U, 1.0 - _U)
    return np.clip(1.0 - d / width, 0.0, 1.0) ** 2


def hollow(center: float, depth: float, width: float) -> np.ndarray:
    """A smooth hollow of ``depth`` bed heights at ``center`` (0..1), half-width ``width``."""
    return depth * np.exp(-0.5 * ((_U - center) / max(width, 1e-3)) ** 2)


def _heaped(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(0.96, 1.04)
    peak = rng.uniform(0.1, 0.38)
    center = rng.uniform(0.4, 0.6)
    spread = rng.uniform(0.25, 0.45)
    hill = np.exp(-0.5 * ((_U - center) / spread) ** 2)
    profile = base + peak * hill - 0.12 * _end_slump(rng)
    return profile + _roughness(rng, rng.uniform(0.005, 0.02))


def _level_full(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.93, 1.02) + _roughness(rng, rng.uniform(0.005, 0.02))


def _under_filled(rng: np.random.Generator) -> np.ndarray:
    level = rng.uniform(0.25, 0.85)
    crown = rng.uniform(0.0, 0.12)
    center = rng.uniform(0.3, 0.7)
    hill = np.exp(-0.5 * ((_U - center) / 0.3) ** 2)
    return level + crown * hill + _roughness(rng, rng.uniform(0.005, 0.025))


def _pitted(rng: np.random.Generator) -> np.ndarray:
    profile = rng.uniform(0.98, 1.12) + _roughness(rng, rng.uniform(0.005, 0.015))
    for _ in range(int(rng.integers(1, 4))):
        profile = profile - hollow(
            center=rng.uniform(0.15, 0.85),
            depth=rng.uniform(0.1, 0.5),
            width=rng.uniform(0.025, 0.08),
        )
    return profile


def _one_sided(rng: np.random.Generator) -> np.ndarray:
    high = rng.uniform(1.1, 1.4)
    low = rng.uniform(0.3, 0.65)
    curve = rng.uniform(0.7, 1.6)
    ramp = high + (low - high) * _U**curve
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    return ramp + _roughness(rng, rng.uniform(0.005, 0.02))


def _empty(rng: np.random.Generator) -> np.ndarray:
    return np.zeros(PROFILE_STATIONS)


PROFILE_REGISTRY: dict[LoadShape, Callable[[np.random.Generator], np.ndarray]] = {
    LoadShape.HEAPED: _heaped,
    LoadShape.LEVEL_FULL: _level_full,
    LoadShape.UNDER_FILLED: _under_filled,
    LoadShape.PITTED: _pitted,
    LoadShape.ONE_SIDED: _one_sided,
    LoadShape.EMPTY: _empty,
}


def shift_to_fill(profile: np.ndarray, fill_level: float) -> np.ndarray:
    """Shift ``profile`` up or down so that ``mean(clip(profile, 0, 1)) == fill_level``.

    The shape (pits, slopes) is kept where it stays between the floor and the rim.
    """
    if not 0.0 <= fill_level <= 1.0:
        raise ValueError(f"fill_level: expected a share in [0, 1], got {fill_level}")
    lo, hi = -float(profile.max()) - 1.0, 2.0 - float(profile.min())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.mean(np.clip(profile + mid, 0.0, 1.0)) < fill_level:
            lo = mid
        else:
            hi = mid
    return np.clip(profile + hi, 0.0, MAX_HEAP)


def make_profile(
    shape: LoadShape | str,
    rng: np.random.Generator,
    *,
    fill_level: float | None = None,
    pit_depth: float | None = None,
) -> np.ndarray:
    """A height profile float64 ``[PROFILE_STATIONS]`` of ``shape`` (bed heights, front first).

    ``fill_level`` (share in [0, 1]) shifts the profile to that fill; ``pit_depth`` (bed heights)
    digs one hollow of that depth in the middle of the bed after the shift.
    """
    profile = PROFILE_REGISTRY[LoadShape(shape)](rng)
    if LoadShape(shape) is LoadShape.EMPTY:
        return profile
    profile = np.clip(profile, 0.0, MAX_HEAP)
    if fill_level is not None:
        profile = shift_to_fill(profile, fill_level)
    if pit_depth is not None:
        if pit_depth < 0:
            raise ValueError(f"pit_depth: expected a depth >= 0 in bed heights, got {pit_depth}")
        profile = profile - hollow(0.5, pit_depth, 0.05)
    return np.clip(profile, 0.0, MAX_HEAP)
