"""``benchmarks/verdict_oracles.py``: verdict accuracy with the served masks vs. the true ones.

:func:`evaluate` serves the fitting and the test scenes (:func:`~loadcheck.evaluation.oracles.
serve_scenes`), fits one integrator per version of the scored truck and tests it
(:mod:`loadcheck.evaluation.oracles`), and returns every figure JSON-ready: accuracy with its
95 % Wilson interval per version, the served accuracy per test seed, an optional fitting curve
(accuracy vs. the number of fitting scenes, for ``served`` and ``true_both``) and each test
scene's served verdict right or wrong (``served_right``), which :func:`load_comparison_flags`
reads back to pair two runs (:func:`~loadcheck.evaluation.significance.paired_comparison`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadcheck.evaluation.oracles import (
    PROMPT_SOURCES,
    VERSIONS,
    curve_point,
    of_version,
    serve_scenes,
    verdicts_right,
)
from loadcheck.evaluation.report import machine, progress_bar
from loadcheck.evaluation.served import ScenePipeline
from loadcheck.evaluation.significance import accuracy_summary

CURVE_VERSIONS = ("served", "true_both")


@dataclass(frozen=True)
class OracleRun:
    """What to serve and fit.

    Attributes:
        models: the export folder (recorded in the JSON).
        fit_seed / fit_count: the fitting scenes (``loadcheck demo``: seed 1, 800 scenes).
        test_seeds / test_count: the test scenes, ``test_count`` of each seed.
        fit_curve: fitting-set sizes (each <= ``fit_count``) of the fitting curve.
        prompts: SAM's prompt source (:data:`~loadcheck.evaluation.oracles.PROMPT_SOURCES`).
        size_wh: the scenes' size in pixels.
        cache: the rendered scenes' cache folder.
        progress: show a progress bar.
    """

    models: Path
    fit_seed: int = 1
    fit_count: int = 800
    test_seeds: tuple[int, ...] = (2,)
    test_count: int = 300
    fit_curve: tuple[int, ...] = ()
    prompts: str = "detector"
    size_wh: tuple[int, int] = (960, 540)
    cache: Path = Path("runs/eval_cache")
    progress: bool = True

    def __post_init__(self) -> None:
        if self.prompts not in PROMPT_SOURCES:
            raise ValueError(f"prompts: expected one of {PROMPT_SOURCES}, got {self.prompts!r}")
        if self.fit_seed in self.test_seeds:
            raise ValueError("test seeds must differ from the fitting seed (held-out scenes)")
        if any(n > self.fit_count for n in self.fit_curve):
            raise ValueError(f"fit curve: every size must be <= the fit count ({self.fit_count})")

    @property
    def scenes(self) -> dict[str, Any]:
        """The test scenes as the JSON records them (:func:`scenes_tested`)."""
        return scenes_tested(self.test_seeds, self.test_count, self.size_wh)


def scenes_tested(
    seeds: tuple[int, ...], count_per_seed: int, size_wh: tuple[int, int]
) -> dict[str, Any]:
    """The test scenes as the JSON records them (what :func:`load_comparison_flags` checks)."""
    return {
        "test": {"seeds": list(seeds), "count_per_seed": count_per_seed},
        "size_wh": list(size_wh),
    }


def evaluate(run: OracleRun, pipeline: ScenePipeline) -> dict[str, Any]:
    """Every figure of the benchmark as a JSON-ready dict (see the module docstring)."""
    start = time.perf_counter()
    with progress_bar(run.progress) as bar:

        def serve(seed: int, count: int) -> list[Any]:
            return serve_scenes(
                pipeline, run.cache, seed, count, run.size_wh, run.prompts, progress=bar
            )

        fit = serve(run.fit_seed, run.fit_count)
        by_seed = {seed: serve(seed, run.test_count) for seed in run.test_seeds}
    test = [row for rows in by_seed.values() for row in rows]
    served_s = time.perf_counter() - start
    right = {
        name: verdicts_right(of_version(fit, name), of_version(test, name)) for name in VERSIONS
    }
    served_by_seed, first = {}, 0  # test rows are the seeds' rows in turn
    for seed, rows in by_seed.items():
        flags = right["served"][first : first + len(rows)]
        served_by_seed[str(seed)] = accuracy_summary(flags)["accuracy"]
        first += len(rows)
    labels = [label for label, _ in test]
    return {
        "models": str(run.models),
        "cards": pipeline.card_facts(),
        "fit": {"seed": run.fit_seed, "count": run.fit_count},
        **run.scenes,
        "prompts": run.prompts,
        "most_frequent_verdict": round(max(labels.count(v) for v in set(labels)) / len(labels), 4),
        "accuracy": {name: accuracy_summary(flags) for name, flags in right.items()},
        "served_by_seed": served_by_seed,
        "fit_curve": {
            str(n): {name: curve_point(fit[:n], test, name) for name in CURVE_VERSIONS}
            for n in run.fit_curve
        },
        "served_right": [int(flag) for flag in right["served"]],
        "served_s": round(served_s, 1),
        "machine": machine(),
    }


def load_comparison_flags(path: Path, scenes: dict[str, Any]) -> list[bool]:
    """The ``served_right`` flags of an earlier JSON run of the same test scenes (``scenes``:
    :func:`scenes_tested`).

    Raises:
        ValueError: the file cannot be read, holds no per-scene verdicts, or tested other scenes.
    """
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(earlier, dict) or "served_right" not in earlier:
        raise ValueError(f"{path} has no per-scene verdicts (served_right): rerun it with --json")
    theirs = {key: earlier.get(key) for key in scenes}
    if theirs != scenes:
        raise ValueError(
            f"{path} tested other scenes ({theirs}; this run: {scenes}); compare runs on the "
            "same --test-seed, --test-count and --size"
        )
    return [bool(flag) for flag in earlier["served_right"]]


def format_table(result: dict[str, Any]) -> str:
    """The printed summary of :func:`evaluate`'s result (with its ``comparison``, if any)."""
    fit, test = result["fit"], result["test"]
    seeds = ", ".join(str(seed) for seed in test["seeds"])
    n_test = test["count_per_seed"] * len(test["seeds"])
    lines = [
        f"verdict accuracy on {n_test} scenes of seed {seeds} (integrators fitted on "
        f"{fit['count']} scenes of seed {fit['seed']}; SAM prompted by: {result['prompts']}); "
        f"most frequent verdict {result['most_frequent_verdict']:.3f}",
        f"  {'masks of the scored truck':<28} {'accuracy':>8}  95 % interval",
    ]
    for name in VERSIONS:
        row = result["accuracy"][name]
        low, high = row["ci95"]
        lines.append(f"  {name:<28} {row['accuracy']:>8.3f}  {low:.3f} - {high:.3f}")
    if result["fit_curve"]:
        lines.append(f"  {'fitting scenes':<28} " + "  ".join(f"{n:>10}" for n in CURVE_VERSIONS))
        for n, row in result["fit_curve"].items():
            cells = (f"{v:>10.3f}" if v is not None else f"{'n/a':>10}" for v in row.values())
            lines.append(f"  {n:<28} " + "  ".join(cells))
    if len(test["seeds"]) > 1:
        by_seed = result["served_by_seed"].items()
        lines.append(
            "  served, per seed: " + ", ".join(f"{seed} {acc:.3f}" for seed, acc in by_seed)
        )
    if "comparison" in result:
        c = result["comparison"]
        lines.append(
            f"  served vs {c['earlier']}: {c['gained']} scenes gained, {c['lost']} lost "
            f"({c['change']:+.3f}; McNemar p = {c['p_value']:.3f})"
        )
    lines.append(f"served {fit['count'] + n_test} scenes in {result['served_s']:.0f} s")
    return "\n".join(lines)
