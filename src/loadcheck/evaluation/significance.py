"""How sure a figure is: Wilson score intervals of accuracies, exact McNemar tests of paired runs.

On the same scenes, two runs (other models, another setting) are compared scene by scene
(:func:`paired_comparison`): most scenes are right, or wrong, in both, so a paired test sees far
smaller differences than the two runs' intervals (:func:`wilson`) suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``right / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_summary(right: Sequence[bool]) -> dict[str, Any]:
    """Accuracy of right/wrong flags with its 95 % Wilson interval, rounded to 4 digits."""
    low, high = wilson(sum(right), len(right))
    return {
        "accuracy": round(sum(right) / len(right), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "n": len(right),
    }


def mcnemar_exact_p(gained: int, lost: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test (p = 1/2) of ``gained`` among the
    ``gained + lost`` discordant scenes (1.0 when there is none)."""
    discordant = gained + lost
    tail = sum(math.comb(discordant, k) for k in range(min(gained, lost) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def paired_comparison(earlier: Sequence[bool], now: Sequence[bool]) -> dict[str, Any]:
    """Scene-by-scene comparison of two runs' right/wrong flags on the same scenes: ``gained``
    (wrong before, right now), ``lost``, the accuracy change and the exact McNemar p-value.

    Raises:
        ValueError: the runs scored different scene counts, or none.
    """
    if len(earlier) != len(now):
        raise ValueError(
            f"the runs scored different scene counts ({len(earlier)} and {len(now)}); compare "
            "runs on the same test seeds and counts"
        )
    if not now:
        raise ValueError("no scenes to compare")
    gained = sum(1 for a, b in zip(earlier, now, strict=True) if b and not a)
    lost = sum(1 for a, b in zip(earlier, now, strict=True) if a and not b)
    return {
        "gained": gained,
        "lost": lost,
        "change": round((gained - lost) / len(now), 4),
        "p_value": round(mcnemar_exact_p(gained, lost), 4),
        "n": len(now),
    }
