"""Which mask costs the verdicts: accuracy with the served masks vs. the true bed / load masks.

    python benchmarks/verdict_oracles.py [--models EXPORT_DIR] [--fit-seed 1] [--fit-count 800]
        [--test-seed 2[,3,4,5]] [--test-count 300] [--fit-curve 200,400,800]
        [--prompts detector|true-boxes|truth] [--size 960x540] [--json OUT] [--cache DIR]
        [--compare EARLIER.json]

Every scene is served as ``benchmarks/eval_demo_models.py`` serves it (the ONNX networks of
``--models`` through the serving functions: detector prompts at the serving threshold, SAM on
the crop, ``group_trucks``). The truck serving scores (``features.trucks.scored_truck``) is paired
with the true truck whose bed mask overlaps its bed mask most, and four versions of it are scored:

* ``served``: its served bed and load masks (what ``loadcheck demo`` scores);
* ``true_bed``: the true bed mask with the served load mask;
* ``true_load``: the served bed mask with the true load mask;
* ``true_both``: both true masks (the detector's choice of truck and SAM's box still served).

For each version an integrator with loadcheck's defaults (XGBoost, ``scoring.fit``) is fitted on the
fitting scenes' versions (Qualified / Unqualified photos, as ``loadcheck demo`` fits) and tested on
the test scenes: "No Mine Detected" when the version carries no load
(``features.trucks.is_loaded``), else the integrator's verdict. Printed: verdict accuracy with its
95 % Wilson interval (300 scenes: about +-3.5 points; ``--test-seed 2,3,4,5`` tests on 300 scenes of
each seed, 1,200 in all, about +-1.6 points, and prints the served accuracy per seed). The gap
between ``served`` and a ``true_*`` row is what that mask costs. ``--fit-curve N1,N2,..`` also fits
the ``served`` and ``true_both`` versions on the first N fitting scenes only: how the accuracy grows
with the number of labelled photos (``loadcheck demo`` fits on 800). ``--prompts`` asks what the
detector costs: ``detector`` (default) prompts SAM as serving does; ``true-boxes`` replaces each
detection matched to a true box (same class, IoU >= 0.5) by that true box, keeping the detector's
misses and false positives; ``truth`` prompts with every true box and nothing else. ``--json``
writes every figure, with each test scene's served verdict right or wrong (``served_right``).

``--compare EARLIER.json`` pairs this run's served verdicts with an earlier ``--json`` of the same
test scenes (other models, another setting): scenes gained and lost, and the exact two-sided
McNemar p-value of the difference. On the same 1,200 scenes a paired test sees far smaller
differences than the two runs' intervals suggest, because most scenes are right (or wrong) in both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_demo_models import (  # a sibling script, not a package
    REPO,
    Networks,
    TruthScene,
    _positive,
    _size,
    add_models_argument,
    load_scene,
    served_trucks,
    serving_prompts,
    shipped_models,
    synth_fingerprint,
    true_prompts,
    write_json,
)

from loadcheck.payloads import Detections, TruckMasks, Verdict
from loadcheck.serving.masks import MaskRefinement

VERSIONS = ("served", "true_bed", "true_load", "true_both")
PROMPT_SOURCES = ("detector", "true-boxes", "truth")
CURVE_VERSIONS = ("served", "true_both")
LABELS = {Verdict.QUALIFIED.value: 1, Verdict.UNQUALIFIED.value: 0}


@dataclass(frozen=True)
class ScoredVersion:
    """One version of a scene's scored truck: whether it carries load and its features."""

    loaded: bool
    features: np.ndarray


def true_masks_of(scene: TruthScene, bed_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The true ``(bed, load)`` masks of the truck whose bed overlaps ``bed_mask`` most (IoU);
    the load is all False for an empty truck. ``None`` when no true bed overlaps it."""
    beds = scene.masks[0]
    if not len(beds):
        return None
    inter = (beds & bed_mask[None]).sum(axis=(1, 2))
    union = (beds | bed_mask[None]).sum(axis=(1, 2))
    iou = inter / np.maximum(union, 1)
    best = int(np.argmax(iou))
    if iou[best] <= 0:
        return None
    truck = scene.trucks[0][best]
    loads = np.flatnonzero(scene.trucks[1] == truck)
    load = scene.masks[1][loads[0]] if len(loads) else np.zeros_like(bed_mask)
    return beds[best], load


def versions_of(truck: TruckMasks | None, scene: TruthScene) -> dict[str, TruckMasks | None]:
    """The four versions of the scored truck (see the module docstring); ``None`` where serving
    found no truck. A served truck no true bed overlaps keeps its served masks in every version."""
    if truck is None:
        return dict.fromkeys(VERSIONS)
    truth = true_masks_of(scene, truck.bed_mask)
    if truth is None:
        return dict.fromkeys(VERSIONS, truck)
    bed, load = truth

    return {
        "served": truck,
        "true_bed": replace(truck, bed_mask=bed),
        "true_load": replace(truck, load_mask=load),
        "true_both": replace(truck, bed_mask=bed, load_mask=load),
    }


def score_versions(
    versions: dict[str, TruckMasks | None], shape_hw: tuple[int, int]
) -> dict[str, ScoredVersion]:
    """Features of each version; no truck scores as an empty frame (as fitting does)."""
    from loadcheck.features.extract import extract_features
    from loadcheck.features.trucks import empty_truck, is_loaded

    out = {}
    for name, truck in versions.items():
        if truck is None:
            truck = empty_truck(shape_hw[1], shape_hw[0])
        out[name] = ScoredVersion(is_loaded(truck), extract_features(truck).values)
    return out


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``right / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def verdicts_right(
    fit: list[tuple[str, ScoredVersion]], test: list[tuple[str, ScoredVersion]]
) -> list[bool]:
    """Fit an integrator (loadcheck defaults) on ``fit`` (label, version); whether each ``test``
    scene's verdict is right."""
    from loadcheck.scoring.fit import fit_score_model

    pairs = [(LABELS[label], v.features) for label, v in fit if label in LABELS]
    x = np.stack([f for _, f in pairs]).astype(np.float32)
    y = np.array([label for label, _ in pairs])
    model = fit_score_model(x, y, cv_folds=0).model
    right = []
    for label, version in test:
        if not version.loaded:
            verdict = Verdict.NO_MINE_DETECTED.value
        elif model.predict(version.features[None])[0]:
            verdict = Verdict.QUALIFIED.value
        else:
            verdict = Verdict.UNQUALIFIED.value
        right.append(verdict == label)
    return right


def accuracy_summary(right: list[bool]) -> dict[str, Any]:
    """Accuracy of right/wrong flags with its 95 % Wilson interval."""
    low, high = wilson(sum(right), len(right))
    return {
        "accuracy": round(sum(right) / len(right), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "n": len(right),
    }


def accuracy_of(
    fit: list[tuple[str, ScoredVersion]], test: list[tuple[str, ScoredVersion]]
) -> dict[str, Any]:
    """Fit an integrator (loadcheck defaults) on ``fit`` (label, version), test on ``test``."""
    return accuracy_summary(verdicts_right(fit, test))


def paired_comparison(earlier: Sequence[bool], now: Sequence[bool]) -> dict[str, Any]:
    """Scene-by-scene comparison of two runs' right/wrong flags on the same scenes: ``gained``
    (wrong before, right now), ``lost``, the accuracy change and the exact two-sided McNemar
    p-value (a binomial test of ``gained`` among the discordant scenes, p = 1/2)."""
    if len(earlier) != len(now):
        raise ValueError(
            f"the runs scored different scene counts ({len(earlier)} and {len(now)}); compare "
            "runs on the same test seeds and counts"
        )
    if not now:
        raise ValueError("no scenes to compare")
    gained = sum(1 for a, b in zip(earlier, now, strict=True) if b and not a)
    lost = sum(1 for a, b in zip(earlier, now, strict=True) if a and not b)
    discordant = gained + lost
    tail = sum(math.comb(discordant, k) for k in range(min(gained, lost) + 1)) / 2**discordant
    return {
        "gained": gained,
        "lost": lost,
        "change": round((gained - lost) / len(now), 4),
        "p_value": round(min(1.0, 2 * tail), 4),
        "n": len(now),
    }


def load_comparison_flags(path: Path, scenes: dict[str, Any]) -> list[bool]:
    """The ``served_right`` flags of an earlier ``--json`` run of the same test scenes
    (``scenes``: this run's ``test`` and ``size_wh`` entries)."""
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


def curve_point(
    fit: list[tuple[str, dict[str, ScoredVersion]]],
    test: list[tuple[str, dict[str, ScoredVersion]]],
    version: str,
) -> float | None:
    """Accuracy of ``version`` fitted on ``fit``; ``None`` when ``fit`` holds fewer than two
    Qualified or Unqualified scenes (no integrator can be fitted)."""
    from loadcheck.scoring.fit import FitError

    try:
        return float(
            accuracy_of([(lb, v[version]) for lb, v in fit], [(lb, v[version]) for lb, v in test])[
                "accuracy"
            ]
        )
    except FitError:
        return None


def oracle_prompts(found: Detections, scene: TruthScene, source: str) -> Detections:
    """The prompts SAM gets for ``--prompts source`` (see the module docstring), beds then
    loads as ``select_prompts`` orders them; ``found`` are the serving detections."""
    from loadcheck.metrics import match_detections
    from loadcheck.serving.prompts import select_prompts

    if source == "detector":
        return found
    if source == "truth":
        return true_prompts(scene)
    xyxy = found.xyxy.copy()
    for c, truth in enumerate(scene.boxes):
        mine = np.flatnonzero(found.class_id == c)
        match = match_detections(found.xyxy[mine], found.confidence[mine], truth)
        hit = match >= 0
        xyxy[mine[hit]] = truth[match[hit]]
    return select_prompts(Detections(xyxy, found.confidence, found.class_id))


def serve_scenes(
    nets: Networks,
    cache: Path,
    seed: int,
    count: int,
    size: tuple[int, int],
    bar: Any,
    prompts_from: str = "detector",
) -> list[tuple[str, dict[str, ScoredVersion]]]:
    """(true label, scored versions) of scenes ``0 .. count-1`` of ``seed``."""
    from loadcheck.features.trucks import scored_truck
    from loadcheck.serving.images import decode_image
    from loadcheck.serving.prompts import DetectorSettings

    serving = DetectorSettings()
    folder = cache / f"s{seed}_{size[0]}x{size[1]}_{synth_fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    task = bar.add_task(f"seed {seed}", total=count)
    rows = []
    for index in range(count):
        scene = load_scene(folder, seed, index, size)
        rgb = decode_image(scene.jpeg)
        wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        found = nets.detect(rgb, serving.conf_thres, serving.iou_thres, serving.max_det)
        prompts = oracle_prompts(serving_prompts(found, serving.conf_thres), scene, prompts_from)
        trucks = served_trucks(nets, rgb, prompts, wh, {})
        versions = versions_of(scored_truck(trucks), scene)
        rows.append((scene.label, score_versions(versions, (wh[1], wh[0]))))
        bar.advance(task)
    return rows


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import Progress

    nets = Networks(args.models, args.threads, args.mask_refine_radius)
    start = time.perf_counter()
    with Progress(disable=not args.progress) as bar:
        fit = serve_scenes(
            nets, args.cache, args.fit_seed, args.fit_count, args.size, bar, args.prompts
        )
        by_seed = {
            seed: serve_scenes(
                nets, args.cache, seed, args.test_count, args.size, bar, args.prompts
            )
            for seed in args.test_seed
        }
    test = [row for rows in by_seed.values() for row in rows]
    served_s = time.perf_counter() - start
    right = {
        name: verdicts_right(
            [(label, v[name]) for label, v in fit], [(label, v[name]) for label, v in test]
        )
        for name in VERSIONS
    }
    accuracy = {name: accuracy_summary(flags) for name, flags in right.items()}
    served_by_seed, start_row = {}, 0  # test rows are the seeds' rows in turn
    for seed, rows in by_seed.items():
        flags = right["served"][start_row : start_row + len(rows)]
        served_by_seed[str(seed)] = accuracy_summary(flags)["accuracy"]
        start_row += len(rows)
    curve = {
        str(n): {name: curve_point(fit[:n], test, name) for name in CURVE_VERSIONS}
        for n in args.fit_curve
    }
    labels = [label for label, _ in test]
    return {
        "models": str(args.models),
        "cards": nets.card_facts(),
        "fit": {"seed": args.fit_seed, "count": args.fit_count},
        "test": {"seeds": list(args.test_seed), "count_per_seed": args.test_count},
        "size_wh": list(args.size),
        "prompts": args.prompts,
        "most_frequent_verdict": round(max(labels.count(v) for v in set(labels)) / len(labels), 4),
        "accuracy": accuracy,
        "served_by_seed": served_by_seed,
        "fit_curve": curve,
        "served_right": [int(flag) for flag in right["served"]],
        "served_s": round(served_s, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}",
    }


def print_table(result: dict[str, Any]) -> None:
    fit, test = result["fit"], result["test"]
    seeds = ", ".join(str(seed) for seed in test["seeds"])
    n_test = test["count_per_seed"] * len(test["seeds"])
    print(
        f"verdict accuracy on {n_test} scenes of seed {seeds} (integrators fitted on "
        f"{fit['count']} scenes of seed {fit['seed']}; SAM prompted by: {result['prompts']}); "
        f"most frequent verdict {result['most_frequent_verdict']:.3f}"
    )
    print(f"  {'masks of the scored truck':<28} {'accuracy':>8}  95 % interval")
    for name in VERSIONS:
        row = result["accuracy"][name]
        low, high = row["ci95"]
        print(f"  {name:<28} {row['accuracy']:>8.3f}  {low:.3f} - {high:.3f}")
    if result["fit_curve"]:
        print(f"  {'fitting scenes':<28} " + "  ".join(f"{n:>10}" for n in CURVE_VERSIONS))
        for n, row in result["fit_curve"].items():
            cells = (f"{v:>10.3f}" if v is not None else f"{'n/a':>10}" for v in row.values())
            print(f"  {n:<28} " + "  ".join(cells))
    if len(test["seeds"]) > 1:
        by_seed = result["served_by_seed"].items()
        print("  served, per seed: " + ", ".join(f"{seed} {acc:.3f}" for seed, acc in by_seed))
    if "comparison" in result:
        c = result["comparison"]
        print(
            f"  served vs {c['earlier']}: {c['gained']} scenes gained, {c['lost']} lost "
            f"({c['change']:+.3f}; McNemar p = {c['p_value']:.3f})"
        )
    print(f"served {fit['count'] + n_test} scenes in {result['served_s']:.0f} s")


def _int_list(text: str, example: str) -> tuple[int, ...]:
    """Comma-separated integers, or an ``ArgumentTypeError`` that shows ``example``."""
    try:
        return tuple(int(item) for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as {example}, got {text!r}"
        ) from None


def _counts(text: str) -> tuple[int, ...]:
    """``"200,400,800"`` -> (200, 400, 800): positive integers, comma-separated."""
    counts = _int_list(text, "200,400,800")
    if min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return counts


def _seeds(text: str) -> tuple[int, ...]:
    """``"2,3"`` -> (2, 3): distinct integers >= 0, comma-separated."""
    seeds = _int_list(text, "2,3,4,5")
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct integers >= 0, got {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_models_argument(p)
    p.add_argument("--fit-seed", type=int, default=1, help="fitting scenes' seed (demo: 1)")
    p.add_argument("--fit-count", type=_positive, default=800, help="fitting scenes (demo: 800)")
    p.add_argument(
        "--test-seed",
        type=_seeds,
        default=(2,),
        help="test scenes' seed, or comma-separated seeds (demo: 2; 2,3,4,5: 1,200 scenes)",
    )
    p.add_argument("--test-count", type=_positive, default=300, help="test scenes")
    p.add_argument(
        "--fit-curve",
        type=_counts,
        default=(),
        help="comma-separated fitting-set sizes, each <= --fit-count: accuracy vs. labelled photos",
    )
    p.add_argument(
        "--prompts",
        choices=PROMPT_SOURCES,
        default="detector",
        help="SAM's prompts: the detector's (as served), its matched boxes replaced by the true "
        "boxes, or the true boxes only",
    )
    p.add_argument("--size", type=_size, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    p.add_argument(
        "--cache", type=Path, default=REPO / "runs/eval_cache", help="rendered scenes cache"
    )
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument(
        "--mask-refine-radius",
        type=float,
        default=MaskRefinement().radius,
        help="serving's guided-filter mask refinement, SAM low-res px (0: SAM's plain masks)",
    )
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="an earlier --json run of the same test scenes: scenes gained / lost, McNemar p",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fit_seed < 0:
        parser.error("--fit-seed: expected an integer >= 0")
    if args.fit_seed in args.test_seed:
        parser.error("--test-seed: must differ from --fit-seed (held-out scenes)")
    if any(n > args.fit_count for n in args.fit_curve):
        parser.error(f"--fit-curve: every size must be <= --fit-count ({args.fit_count})")
    from loadcheck.serving.repository import RepositoryError

    scenes = {
        "test": {"seeds": list(args.test_seed), "count_per_seed": args.test_count},
        "size_wh": list(args.size),
    }
    earlier: list[bool] | None = None
    if args.compare is not None:
        try:
            earlier = load_comparison_flags(args.compare, scenes)
        except ValueError as exc:
            parser.error(f"--compare: {exc}")
    if args.models is None:
        args.models = shipped_models(parser)
    try:
        result = evaluate(args)
    except RepositoryError as exc:
        parser.error(f"--models: {exc}")
    if earlier is not None:
        now = [bool(flag) for flag in result["served_right"]]
        result["comparison"] = {"earlier": str(args.compare), **paired_comparison(earlier, now)}
    print_table(result)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
