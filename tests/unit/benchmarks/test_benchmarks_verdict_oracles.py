"""benchmarks/verdict_oracles.py: pairing with the truth, mask substitution, intervals, a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pytest

from loadcheck.payloads import Detections, TruckMasks
from loadcheck.synth import render_scene

SIZE = (320, 180)


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("verdict_oracles")


def _rect(x1: int, y1: int, x2: int, y2: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _scene(bench: ModuleType) -> Any:
    """Two trucks: 0 (left) carries load, 1 (right) is empty."""
    beds = np.stack([_rect(2, 10, 25, 30), _rect(32, 10, 58, 30)])
    loads = _rect(4, 12, 23, 30)[None]
    return bench.TruthScene(
        "s",
        b"",
        "Qualified",
        (beds, loads),
        (np.zeros((2, 4)), np.zeros((1, 4))),
        (np.array([0, 1]), np.array([0])),
    )


def test_the_true_truck_is_the_one_whose_bed_overlaps_most_with_its_own_load(
    bench: ModuleType,
) -> None:
    scene = _scene(bench)
    bed, load = bench.true_masks_of(scene, _rect(30, 8, 50, 30))  # mostly over truck 1
    assert np.array_equal(bed, scene.masks[0][1])
    assert not load.any()  # truck 1 is empty
    bed, load = bench.true_masks_of(scene, _rect(0, 8, 20, 30))
    assert np.array_equal(bed, scene.masks[0][0])
    assert np.array_equal(load, scene.masks[1][0])
    assert bench.true_masks_of(scene, _rect(0, 0, 60, 5)) is None  # overlaps no bed


def test_each_version_swaps_in_only_its_own_true_mask(bench: ModuleType) -> None:
    scene = _scene(bench)
    served = TruckMasks(_rect(1, 8, 26, 30), _rect(5, 9, 22, 30), (1, 8, 26, 30), (5, 9, 22, 30))
    v = bench.versions_of(served, scene)
    assert v["served"] is served
    true_bed, true_load = scene.masks[0][0], scene.masks[1][0]
    assert np.array_equal(v["true_bed"].bed_mask, true_bed)
    assert np.array_equal(v["true_bed"].load_mask, served.load_mask)
    assert np.array_equal(v["true_load"].bed_mask, served.bed_mask)
    assert np.array_equal(v["true_load"].load_mask, true_load)
    assert np.array_equal(v["true_both"].bed_mask, true_bed)
    assert np.array_equal(v["true_both"].load_mask, true_load)
    assert v["true_both"].bed_xyxy == served.bed_xyxy  # the detector's box stays
    assert bench.versions_of(None, scene) == dict.fromkeys(bench.VERSIONS)
    scored = bench.score_versions(bench.versions_of(None, scene), (40, 60))
    assert not any(s.loaded for s in scored.values())  # no truck: "No Mine Detected"


def test_wilson_interval_matches_known_values(bench: ModuleType) -> None:
    low, high = bench.wilson(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-3)
    assert high == pytest.approx(0.9448, abs=1e-3)
    assert bench.wilson(0, 0) == (0.0, 1.0)
    low, high = bench.wilson(300, 300)
    assert high == pytest.approx(1.0) and 0.98 < low < 1.0


class TruthNetworks:
    """Stands in for the ONNX networks: the detector answers each scene's true boxes in turn and
    "SAM" answers the true mask of each prompt box (so served masks are the true masks)."""

    scenes: ClassVar[list[Any]] = []

    def __init__(self, models: Path, threads: int, refine_radius: float) -> None:
        self.calls = 0

    def card_facts(self) -> dict[str, Any]:
        return {}

    def detect(self, rgb: np.ndarray, conf: float, iou: float, max_det: int) -> Detections:
        scene = self.scenes[self.calls]
        self.calls += 1
        beds = [t.bed_xyxy for t in scene.trucks]
        loads = [t.load_xyxy for t in scene.trucks if t.load_xyxy is not None]
        xyxy = np.array(beds + loads, np.float32).reshape(-1, 4)
        class_id = np.repeat([0, 1], [len(beds), len(loads)]).astype(np.int32)
        return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), class_id)

    def segment(
        self, rgb: np.ndarray, region: Any, xyxy: np.ndarray, class_id: int, cache: Any
    ) -> np.ndarray:
        trucks = self.scenes[self.calls - 1].trucks
        by_box = {
            tuple(np.float32(v) for v in (t.bed_xyxy if class_id == 0 else t.load_xyxy)): (
                t.bed_mask if class_id == 0 else t.load_mask
            )
            for t in trucks
            if class_id == 0 or t.load_xyxy is not None
        }
        return np.array([by_box[tuple(box)] for box in xyxy.astype(np.float32)], np.uint8).reshape(
            len(xyxy), *rgb.shape[:2]
        )


def test_with_true_served_masks_every_version_scores_the_same(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit_n, test_n = 30, 6
    TruthNetworks.scenes = [render_scene(5, i, SIZE) for i in range(fit_n)] + [
        render_scene(seed, i, SIZE) for seed in (6, 7) for i in range(test_n)
    ]
    monkeypatch.setattr(bench, "Networks", TruthNetworks)
    out = tmp_path / "oracles.json"
    bench.main(
        [
            *("--models", str(tmp_path), "--fit-seed", "5", "--fit-count", str(fit_n)),
            *("--test-seed", "6,7", "--test-count", str(test_n), "--size", "320x180"),
            *("--cache", str(tmp_path / "cache"), "--json", str(out), "--no-progress"),
            *("--fit-curve", f"1,20,{fit_n}"),
        ]
    )
    result = json.loads(out.read_text())
    rows = [result["accuracy"][name] for name in bench.VERSIONS]
    assert all(r == rows[0] for r in rows)  # substituting the truth for the truth changes nothing
    curve = result["fit_curve"]
    assert list(curve) == ["1", "20", str(fit_n)]
    assert curve["1"] == {"served": None, "true_both": None}  # one photo: nothing to fit
    assert curve[str(fit_n)]["served"] == rows[0]["accuracy"]  # all scenes: the main figure
    assert all(0.0 <= v <= 1.0 for n in ("20", str(fit_n)) for v in curve[n].values())
    low, high = rows[0]["ci95"]
    assert rows[0]["n"] == 2 * test_n and low <= rows[0]["accuracy"] <= high
    assert result["test"] == {"seeds": [6, 7], "count_per_seed": test_n}
    per_seed = result["served_by_seed"]
    assert list(per_seed) == ["6", "7"]  # each seed's share of the pooled figure
    assert sum(per_seed.values()) / 2 == pytest.approx(rows[0]["accuracy"], abs=1e-3)
    assert 0.0 < result["most_frequent_verdict"] <= 1.0
    right = result["served_right"]
    assert len(right) == 2 * test_n and sum(right) / len(right) == pytest.approx(
        rows[0]["accuracy"], abs=1e-4
    )

    # The same scenes again, compared with the first run: nothing gained or lost.
    again = bench.main(
        [
            *("--models", str(tmp_path), "--fit-seed", "5", "--fit-count", str(fit_n)),
            *("--test-seed", "6,7", "--test-count", str(test_n), "--size", "320x180"),
            *("--cache", str(tmp_path / "cache"), "--compare", str(out), "--no-progress"),
        ]
    )
    assert again["comparison"] == {
        "earlier": str(out),
        **{"gained": 0, "lost": 0, "change": 0.0, "p_value": 1.0, "n": 2 * test_n},
    }


def test_paired_comparison_counts_gains_and_losses_with_an_exact_mcnemar_p(
    bench: ModuleType,
) -> None:
    earlier = [True] * 90 + [False] * 10
    now = [True] * 80 + [False] * 10 + [True] * 10  # 10 lost, 10 gained
    assert bench.paired_comparison(earlier, now) == {
        "gained": 10,
        "lost": 10,
        "change": 0.0,
        "p_value": 1.0,
        "n": 100,
    }
    now = [True] * 90 + [True] * 8 + [False] * 2  # 8 gained, none lost
    result = bench.paired_comparison(earlier, now)
    assert (result["gained"], result["lost"], result["change"]) == (8, 0, 0.08)
    assert result["p_value"] == pytest.approx(2 / 2**8, abs=1e-4)  # 0.0078: not chance
    result = bench.paired_comparison([True, False, False], [False, True, True])  # 2 gained, 1 lost
    assert result["p_value"] == 1.0  # 2 * P(X <= 1 | 3 discordant) = 2 * 4/8, capped at 1
    with pytest.raises(ValueError, match="different scene counts"):
        bench.paired_comparison([True], [True, False])


def test_compare_refuses_a_run_of_other_scenes_or_without_per_scene_verdicts(
    bench: ModuleType, tmp_path: Path
) -> None:
    scenes = {"test": {"seeds": [2, 3], "count_per_seed": 300}, "size_wh": [960, 540]}
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({**scenes, "served_right": [1, 0, 1]}))
    assert bench.load_comparison_flags(earlier, scenes) == [True, False, True]
    other = {**scenes, "test": {"seeds": [2], "count_per_seed": 300}}
    with pytest.raises(ValueError, match="tested other scenes"):
        bench.load_comparison_flags(earlier, other)
    earlier.write_text(json.dumps(scenes))  # a run from before served_right was written
    with pytest.raises(ValueError, match="rerun it with --json"):
        bench.load_comparison_flags(earlier, scenes)
    with pytest.raises(ValueError, match="cannot read"):
        bench.load_comparison_flags(tmp_path / "missing.json", scenes)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fit-count", "0"], "--fit-count"),
        (["--test-seed", "1"], "--test-seed"),
        (["--test-seed", "2,1"], "--test-seed"),
        (["--test-seed", "2,2"], "--test-seed"),
        (["--test-seed", "-3"], "--test-seed"),
        (["--test-seed", "2,x"], "--test-seed"),
        (["--size", "5x5"], "--size"),
        (["--fit-count", "10", "--fit-curve", "5,20"], "--fit-curve"),
        (["--fit-curve", "200,x"], "--fit-curve"),
        (["--models", "/nonexistent/models"], "--models"),
        (["--compare", "/nonexistent/run.json"], "--compare"),
    ],
)
def test_bad_arguments_exit_with_status_two_naming_the_option(
    bench: ModuleType, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*argv, "--no-progress"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_oracle_prompts_replace_matched_boxes_or_give_the_truth(bench: ModuleType) -> None:
    true_bed, true_load = [10.0, 10.0, 50.0, 40.0], [12.0, 20.0, 48.0, 40.0]
    scene = bench.TruthScene(
        "s",
        b"",
        "Qualified",
        (np.zeros((1, 60, 80), bool), np.zeros((1, 60, 80), bool)),
        (np.array([true_bed]), np.array([true_load])),
        (np.array([0]), np.array([0])),
    )
    found = Detections(
        np.array([[12, 14, 50, 40], [60, 0, 79, 20], [12, 12, 48, 40]], np.float32),
        np.array([0.9, 0.6, 0.8], np.float32),
        np.array([0, 1, 1], np.int32),  # a bed a little low, a stray load, the load too tall
    )
    assert bench.oracle_prompts(found, scene, "detector") is found
    swapped = bench.oracle_prompts(found, scene, "true-boxes")
    assert swapped.of_class(0).xyxy.tolist() == [true_bed]
    loads = swapped.of_class(1).xyxy.tolist()
    assert loads == [true_load, [60, 0, 79, 20]]  # by confidence; the stray box kept as it was
    truth = bench.oracle_prompts(found, scene, "truth")
    assert truth.xyxy.tolist() == [true_bed, true_load] and truth.class_id.tolist() == [0, 1]
