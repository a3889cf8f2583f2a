"""benchmarks/eval_demo_models.py: scene cache, figures on known answers, CLI errors, a real run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pytest

from loadcheck.payloads import Detections
from loadcheck.synth import render_scene

SIZE = (320, 180)


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("eval_demo_models")


def test_cached_scene_holds_the_rendered_image_and_per_truck_truth(
    bench: ModuleType, tmp_path: Path
) -> None:
    for index in range(3):
        scene = render_scene(4, index, SIZE)
        first = bench.load_scene(tmp_path, 4, index, SIZE)
        again = bench.load_scene(tmp_path, 4, index, SIZE)  # from the .npz this time
        assert (tmp_path / f"{scene.stem}.npz").is_file()
        for got in (first, again):
            assert got.jpeg == scene.encode_jpeg()
            assert got.label == scene.label.value
            assert len(got.masks[0]) == len(scene.trucks)
            for j, truck in enumerate(scene.trucks):
                assert np.array_equal(got.masks[0][j], truck.bed_mask)
                assert tuple(got.boxes[0][j]) == truck.bed_xyxy
            loaded = [t for t in scene.trucks if t.load_xyxy is not None]
            assert [scene.trucks[i] for i in got.trucks[1]] == loaded
            for j, truck in enumerate(loaded):
                assert np.array_equal(got.masks[1][j], truck.load_mask)
                assert tuple(got.boxes[1][j]) == truck.load_xyxy


class OracleNetworks:
    """Stands in for the ONNX networks: the detector answers the truth of each scene in turn,
    "SAM" answers each prompt box filled as a rectangle."""

    truths: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def __init__(self, models: Path, threads: int, refine_radius: float) -> None:
        self.side = 64
        self.calls = 0

    def card_facts(self) -> dict[str, Any]:
        return {}

    def detect(self, rgb: np.ndarray, conf: float, iou: float, max_det: int) -> Detections:
        beds, loads = self.truths[self.calls]
        self.calls += 1
        xyxy = np.concatenate([beds, loads]).astype(np.float32)
        class_id = np.repeat([0, 1], [len(beds), len(loads)]).astype(np.int32)
        return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), class_id)

    def segment(
        self, rgb: np.ndarray, region: Any, xyxy: np.ndarray, class_id: int, cache: Any
    ) -> np.ndarray:
        out = np.zeros((len(xyxy), *rgb.shape[:2]), np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(np.round(xyxy).astype(int)):
            out[k, y1:y2, x1:x2] = 1
        return out


def test_a_detector_that_answers_the_truth_scores_ap_one_and_the_true_box_mask_iou(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 4
    OracleNetworks.truths = [
        (
            np.array([t.bed_xyxy for t in s.trucks]).reshape(-1, 4),
            np.array([t.load_xyxy for t in s.trucks if t.load_xyxy]).reshape(-1, 4),
        )
        for s in (render_scene(5, i, SIZE) for i in range(count))
    ]
    monkeypatch.setattr(bench, "Networks", OracleNetworks)
    args = bench.build_parser().parse_args(
        [
            *("--models", str(tmp_path), "--seed", "5", "--count", str(count)),
            *("--size", "320x180", "--cache", str(tmp_path / "cache"), "--no-progress"),
        ]
    )
    args.demo_report = None
    result = bench.evaluate(args)
    n_beds = sum(len(b) for b, _ in OracleNetworks.truths)
    n_loads = sum(len(ld) for _, ld in OracleNetworks.truths)
    assert result["detector"]["per_class"]["bed"]["n_true"] == n_beds
    assert result["detector"]["per_class"]["load"]["n_true"] == n_loads
    assert result["detector"]["map"] == 1.0
    assert result["detector"]["per_class"]["bed"]["recall_at_conf"] == 1.0
    for name, n in (("bed", n_beds), ("load", n_loads)):
        exact = result["detector"]["box_precision_at_conf"][name]
        assert exact["n"] == n and exact["mean_iou"] == 1.0 and exact["iou_75"] == 1.0
        assert all(exact[edge] == 0.0 for edge in bench.BoxPrecision.EDGES)
    for frame in ("crop", "whole"):
        by_source = result["masks"]["mean_iou"][frame]
        for name in ("bed", "load"):
            true_boxes, detected = by_source["true_boxes"][name], by_source["detector_boxes"][name]
            assert detected["missed_by_detector"] == 0
            assert detected["n"] == true_boxes["n"] == (n_beds if name == "bed" else n_loads)
            assert detected["mean"] == true_boxes["mean"]
            assert 0.2 < true_boxes["mean"] < 1.0  # a filled box is not the truck's outline
    fill = result["fill"]
    loaded_first = sum(len(ld) > 0 and len(b) > 0 for b, ld in OracleNetworks.truths)
    with_trucks = sum(len(b) > 0 for b, _ in OracleNetworks.truths)
    assert fill["n_loaded"] + fill["n_empty"] == with_trucks  # scenes without a truck: skipped
    assert fill["n_loaded"] >= loaded_first - 1  # the first truck is the most prominent one
    assert fill["empty_kept_empty"] in (None, 1.0)  # no load box is ever drawn on an empty bed
    assert fill["fullness_mae"] is None or 0.0 <= fill["fullness_mae"] <= 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "0"], "--count"),
        (["--size", "5x5"], "--size"),
        (["--frame", "half"], "--frame"),
        (["--eval-conf", "2"], "--eval-conf"),
        (["--models", "/nonexistent/models"], "--models"),
    ],
)
def test_bad_arguments_exit_with_status_two_naming_the_option(
    bench: ModuleType, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*argv, "--no-progress"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.torch
def test_the_benchmark_runs_on_exported_tiny_models_and_writes_its_json(
    bench: ModuleType, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from loadcheck.export.tiny import export_tiny_models

    export_tiny_models(tmp_path / "models")
    out = tmp_path / "eval.json"
    bench.main(
        [
            *("--models", str(tmp_path / "models"), "--count", "2", "--size", "320x180"),
            *("--cache", str(tmp_path / "cache"), "--json", str(out), "--no-progress"),
            *("--demo-report", str(tmp_path / "absent.json")),
        ]
    )
    result = json.loads(out.read_text())
    assert result["cards"]["detector"]["file"] == "detector.onnx"
    assert result["detector"]["per_class"]["bed"]["n_true"] >= 2
    assert 0.0 <= result["detector"]["map"] <= 1.0
    crop = result["masks"]["mean_iou"]["crop"]["true_boxes"]["bed"]
    assert crop["n"] == result["detector"]["per_class"]["bed"]["n_true"]
    assert 0.0 <= crop["mean"] <= 1.0
    assert result["verdict"] is None


def test_the_demo_report_accuracy_is_read_when_present_and_none_otherwise(
    bench: ModuleType, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    assert bench.read_demo_report(report) is None
    report.write_text(
        json.dumps({"accuracy": 0.95, "chance_accuracy": 0.4, "test": {"count": 20}, "results": []})
    )
    got = bench.read_demo_report(report)
    assert got["accuracy"] == 0.95
    assert got["chance_accuracy"] == 0.4
    assert got["test"] == {"count": 20}


def test_box_precision_reports_each_edge_in_true_box_units(bench: ModuleType) -> None:
    boxes = bench.BoxPrecision(0.5)
    truth = np.array([[100.0, 50.0, 300.0, 150.0]])  # 200 wide, 100 high
    found = Detections(
        np.array([[100.0, 70.0, 300.0, 150.0], [0.0, 0.0, 10.0, 10.0]], np.float32),
        np.array([0.9, 0.8], np.float32),
        np.zeros(2, np.int32),
    )
    boxes.add(0, found, truth)  # the top edge 20 px (0.2 heights) low; the stray box unmatched
    bed = boxes.summary(0)
    assert bed["n"] == 1
    assert bed["top"] == pytest.approx(0.2) and bed["left"] == bed["right"] == bed["bottom"] == 0
    assert bed["mean_iou"] == pytest.approx(0.8) and bed["iou_75"] == 1.0
    assert boxes.summary(1) == {
        "n": 0,
        "mean_iou": None,
        "iou_75": None,
        **dict.fromkeys(bench.BoxPrecision.EDGES),
    }


def test_true_prompts_are_the_scenes_boxes_beds_first(bench: ModuleType) -> None:
    scene = bench.TruthScene(
        "s",
        b"",
        "Qualified",
        (np.zeros((2, 4, 4), bool), np.zeros((1, 4, 4), bool)),
        (np.array([[0, 0, 9, 9], [20, 0, 29, 9]], float), np.array([[1, 2, 8, 9]], float)),
        (np.array([0, 1]), np.array([0])),
    )
    prompts = bench.true_prompts(scene)
    assert prompts.class_id.tolist() == [0, 0, 1]
    assert prompts.xyxy.tolist()[2] == [1, 2, 8, 9]
