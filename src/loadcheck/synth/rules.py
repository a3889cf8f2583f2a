"""The labelling rule of the synthetic scenes: pure functions driven by named constants.

Every quantity is measured on a truck's *height profile*: ``profile[i]`` is the height of the
load's top at the ``i``-th of ``N`` equally spaced stations along the bed, from the front (cab
end, index 0) to the back (tailgate end), in units of the bed height (0 = bed floor, 1 = rim;
values above 1 are heaped above the rim).

* **fill level** — the share of the bed's loadable area (floor to rim) covered by the load. For
  the rendered scenes it is measured on the exact masks: ``|load ∩ bed| / |bed|``; for a bare
  profile :func:`fill_level_of_profile` gives ``mean(clip(profile, 0, 1))``.
* **pit depth** — the depth of the deepest hollow in the load's top, in bed heights: the most
  "rain" a station could hold, ``min(max(profile[:i+1]), max(profile[i:])) - profile[i]``.
* **balance** — mean height of the back half minus mean height of the front half, in bed heights
  (positive: back-heavy).

A truck is **Qualified** iff it carries a load, ``fill_level >= QUALIFIED_MIN_FILL``,
``pit_depth <= QUALIFIED_MAX_PIT_DEPTH`` and ``|balance| <= QUALIFIED_MAX_IMBALANCE``;
**Unqualified** when it carries a load that misses one of these; **No Mine Detected** when it
carries none. The image label is the verdict of the most prominent *loaded* truck (largest
visible bed); "No Mine Detected" when no truck in view carries a load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from loadcheck.payloads import Verdict

QUALIFIED_MIN_FILL: Final = 0.90
"""Least fill level (share of the loadable area) of a Qualified truck."""

QUALIFIED_MAX_PIT_DEPTH: Final = 0.15
"""Deepest hollow a Qualified load may have, in bed heights."""

QUALIFIED_MAX_IMBALANCE: Final = 0.20
"""Largest front/back height difference (absolute balance) of a Qualified load, in bed heights."""


def _as_profile(profile: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(profile, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("profile: expected at least one station, got an empty profile")
    if not np.all(np.isfinite(values)):
        raise ValueError("profile: expected finite heights (bed heights), got NaN or inf")
    return np.maximum(values, 0.0)


def fill_level_of_profile(profile: Sequence[float] | np.ndarray) -> float:
    """Share of the loadable area under the rim covered by ``profile`` (uniform stations)."""
    return float(np.mean(np.clip(_as_profile(profile), 0.0, 1.0)))


def pit_depth_of_profile(profile: Sequence[float] | np.ndarray) -> float:
    """Depth of the deepest hollow of ``profile`` in bed heights (0 for a profile without one).

    A station's hollow depth is how far it lies below the lower of the highest points on either
    side of it (the water it would trap): ``min(max(p[:i+1]), max(p[i:])) - p[i]``.
    """
    values = _as_profile(profile)
    left = np.maximum.accumulate(values)
    right = np.maximum.accumulate(values[::-1])[::-1]
    return float(np.max(np.minimum(left, right) - values))


def balance_of_profile(profile: Sequence[float] | np.ndarray) -> float:
    """Mean height of the back half minus that of the front half, in bed heights.

    With an odd number of stations the middle one belongs to neither half.
    """
    values = _as_profile(profile)
    half = len(values) // 2
    if half == 0:
        return 0.0
    return float(np.mean(values[-half:]) - np.mean(values[:half]))


def truck_verdict(fill_level: float, pit_depth: float, balance: float, has_load: bool) -> Verdict:
    """The verdict for one truck (see the module docstring for the rule and units)."""
    if not has_load:
        return Verdict.NO_MINE_DETECTED
    if (
        fill_level >= QUALIFIED_MIN_FILL
        and pit_depth <= QUALIFIED_MAX_PIT_DEPTH
        and abs(balance) <= QUALIFIED_MAX_IMBALANCE
    ):
        return Verdict.QUALIFIED
    return Verdict.UNQUALIFIED


def image_verdict(truck_verdicts: Sequence[Verdict | str]) -> Verdict:
    """The image label from per-truck verdicts given most prominent (largest bed) first.

    It is the verdict of the first truck that carries a load; "No Mine Detected" when none does.
    """
    for verdict in truck_verdicts:
        v = Verdict(verdict)
        if v is not Verdict.NO_MINE_DETECTED:
            return v
    return Verdict.NO_MINE_DETECTED
