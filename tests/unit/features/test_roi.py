"""A camera's region of interest picks the truck inside its polygon (two-truck synthetic scene).

The scene (``loadcheck.synth``, two separate trucks) is segmented perfectly: one bed and one
load detection per truck, with the scene's own masks. The right truck's load is cut down to its
lower rows (an under-filled truck), so the two trucks get different verdicts from a score model
that answers the ``fullness`` feature as the probability. The scorer is the served one
(:class:`~loadcheck.pipeline.scorer.ScorerStep`), run alone and through the in-process runner.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from loadcheck import tensor_names as tn
from loadcheck.features.roi import (
    MIN_BED_SHARE_INSIDE,
    RoiError,
    check_roi,
    format_roi,
    parse_roi,
    polygon_mask,
    roi_tensor,
    share_inside,
)
from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Verdict
from loadcheck.pipeline.scorer import SEGMENTATION_TENSORS, ScorerSettings, ScorerStep
from loadcheck.pipeline.step import Step, StepInputError
from loadcheck.pipeline.tensors import TensorSpec


class FullnessModel:
    """A score model whose probability is the truck's ``fullness`` feature."""

    threshold = 0.5

    def __init__(self) -> None:
        from loadcheck.features.spec import FEATURE_SPEC

        self.metadata: dict = {}
        self.column = list(FEATURE_SPEC.names).index("fullness")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x, np.float32)[:, self.column], 0.0, 1.0)


@pytest.fixture(scope="module")
def two_trucks() -> dict:
    """Segmentator outputs of a two-truck scene: the left truck full, the right one half empty."""
    from loadcheck.synth.render import render_scene

    scene = render_scene(1, 5, truck_count=2, load_shape="level_full", occluder="none")
    assert scene.truck_count == 2
    left, right = sorted(scene.trucks, key=lambda t: t.bed_xyxy[0])
    assert left.bed_xyxy[2] < right.bed_xyxy[0]  # side by side, not overlapping
    right_load = right.load_mask.copy()
    rows = np.flatnonzero(right_load.any(axis=1))
    right_load[: rows[0] + int(0.75 * (rows[-1] - rows[0])), :] = False  # keep the lowest quarter
    masks, boxes, classes = [], [], []
    for bed, load in ((left.bed_mask, left.load_mask), (right.bed_mask, right_load)):
        for mask, cls in ((bed, BED_CLASS_ID), (load, LOAD_CLASS_ID)):
            ys, xs = np.nonzero(mask)
            masks.append(mask.astype(np.uint8))
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            classes.append(cls)
    n = len(masks)
    feeds = {
        tn.BOXES_XYXY: np.asarray(boxes, np.float32),
        tn.CLASS_IDS: np.asarray(classes, np.int32),
        tn.SCORES: np.full(n, 0.9, np.float32),
        tn.MASKS: np.stack(masks),
        tn.MASK_IOU: np.full(n, 0.95, np.float32),
    }
    w, h = scene.size_wh
    return {
        "feeds": feeds,
        "left": left.bed_xyxy,
        "right": right.bed_xyxy,
        "size": (w, h),
    }


def _around(box: tuple[float, float, float, float], pad: float = 10.0) -> list[list[float]]:
    x1, y1, x2, y2 = box
    return [[x1 - pad, y1 - pad], [x2 + pad, y1 - pad], [x2 + pad, y2 + pad], [x1 - pad, y2 + pad]]


def _answer(outputs: Mapping[str, np.ndarray]) -> tuple[str, float, list[dict], dict]:
    import json

    return (
        outputs[tn.SCORE_RESULT][0].decode(),
        float(outputs[tn.PROBABILITY][0]),
        json.loads(outputs[tn.TRUCKS_JSON][0]),
        json.loads(outputs[tn.REVIEW_JSON][0]),
    )


@pytest.fixture(scope="module")
def scorer() -> ScorerStep:
    return ScorerStep(tn.scorer_model_name("site_a"), ScorerSettings(), FullnessModel())


def test_without_roi_both_trucks_are_scored_and_the_verdicts_differ(scorer, two_trucks):
    verdict, _, trucks, _ = _answer(scorer(two_trucks["feeds"]))
    by_box = {tuple(t["bed_xyxy"]): t["score_result"] for t in trucks}
    assert len(by_box) == 2
    left = by_box[tuple(round(c, 2) for c in two_trucks["left"])]
    right = by_box[tuple(round(c, 2) for c in two_trucks["right"])]
    assert (left, right) == (Verdict.QUALIFIED.value, Verdict.UNQUALIFIED.value)
    assert verdict == left  # the larger (left) truck gives the photo's verdict


@pytest.mark.parametrize(("side", "expected"), [("right", "Unqualified"), ("left", "Qualified")])
def test_roi_around_one_truck_gives_that_trucks_verdict(scorer, two_trucks, side, expected):
    feeds = {**two_trucks["feeds"], tn.ROI_POLYGON: roi_tensor(_around(two_trucks[side]))}
    verdict, probability, trucks, review = _answer(scorer(feeds))
    assert verdict == expected
    assert [t["bed_xyxy"] for t in trucks] == [[round(c, 2) for c in two_trucks[side]]]
    assert trucks[0]["probability"] == pytest.approx(probability, abs=1e-6)
    assert "outside_roi" not in {r["code"] for r in review["reasons"]}


def test_roi_around_empty_ground_is_no_mine_detected_and_flagged(scorer, two_trucks):
    w, h = two_trucks["size"]
    ground = [[w - 60.0, h - 60.0], [w - 1.0, h - 60.0], [w - 1.0, h - 1.0], [w - 60.0, h - 1.0]]
    feeds = {**two_trucks["feeds"], tn.ROI_POLYGON: roi_tensor(ground)}
    verdict, probability, trucks, review = _answer(scorer(feeds))
    assert (verdict, probability, trucks) == (Verdict.NO_MINE_DETECTED.value, 0.0, [])
    assert review["needs_review"] is True
    codes = {r["code"] for r in review["reasons"]}
    assert "outside_roi" in codes
    assert "bed_without_load" not in codes  # no bed lies inside the region


def test_a_truck_half_inside_counts_only_from_the_documented_share(scorer, two_trucks):
    """A polygon over the left part of the left truck: judged when the share of its bed inside
    reaches MIN_BED_SHARE_INSIDE, not otherwise."""
    x1, _, x2, _ = two_trucks["left"]
    bed = two_trucks["feeds"][tn.MASKS][0].astype(bool)
    h, w = bed.shape
    results = {}
    for frac in (0.3, 0.8):
        cut = x1 + frac * (x2 - x1)
        poly = [[0.0, 0.0], [cut, 0.0], [cut, h - 1.0], [0.0, h - 1.0]]
        share = share_inside(bed, polygon_mask(poly, (h, w)))
        feeds = {**two_trucks["feeds"], tn.ROI_POLYGON: roi_tensor(poly)}
        results[frac] = (share, _answer(scorer(feeds))[0])
    assert results[0.3][0] < MIN_BED_SHARE_INSIDE <= results[0.8][0]
    assert results[0.3][1] == Verdict.NO_MINE_DETECTED.value
    assert results[0.8][1] == Verdict.QUALIFIED.value


class SegmentationReplay(Step):
    """A step that answers fixed segmentator outputs for any photo (the runner test's stand-in
    for the networks)."""

    kind = "test_replay"
    settings_type = ScorerSettings

    def __init__(self, outputs: Mapping[str, np.ndarray]) -> None:
        super().__init__("segmentator_replay", ScorerSettings())
        self.replayed = dict(outputs)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        from loadcheck.pipeline.declaration import IMAGE_INPUT

        return (IMAGE_INPUT,)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return SEGMENTATION_TENSORS

    def compute(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(self.replayed)


def test_the_runner_passes_the_roi_to_the_scorer(scorer, two_trucks):
    from loadcheck.pipeline.declaration import INTEGRATOR_OUTPUTS
    from loadcheck.pipeline.runner import PipelineRunner

    runner = PipelineRunner.from_steps(
        [SegmentationReplay(two_trucks["feeds"]), scorer], [t.name for t in INTEGRATOR_OUTPUTS]
    )
    assert runner.inspect(b"photo").score_result is Verdict.QUALIFIED
    right = runner.inspect(b"photo", roi=_around(two_trucks["right"]))
    assert right.score_result is Verdict.UNQUALIFIED
    assert [t.bed_xyxy for t in right.trucks] == [
        pytest.approx(tuple(round(c, 2) for c in two_trucks["right"]))
    ]
    with pytest.raises(RoiError, match="expected 3 to 256 points"):
        runner.inspect(b"photo", roi=[(0, 0), (1, 1)])


@pytest.mark.parametrize(
    ("roi", "message"),
    [
        (np.zeros((2, 2), np.float32), "expected 3 to 256 points"),
        (np.array([[0, 0], [10, 10], [20, 20]], np.float32), "enclose no area"),
        (np.array([[0, 0], [np.nan, 10], [20, 0]], np.float32), "not a finite pixel position"),
        (np.zeros((3, 3), np.float32), "expected shape"),
    ],
)
def test_a_bad_roi_tensor_is_refused_naming_it(scorer, two_trucks, roi, message):
    feeds = {**two_trucks["feeds"], tn.ROI_POLYGON: roi}
    with pytest.raises(StepInputError, match=message) as info:
        scorer(feeds)
    assert "ROI_POLYGON" in str(info.value)


def test_the_integrator_declares_the_roi_as_an_optional_input_wired_to_the_scorer():
    from loadcheck.serving.layout import integrator_config

    config = integrator_config("site_a").to_dict()
    roi = [i for i in config["input"] if i["name"] == tn.ROI_POLYGON]
    assert roi == [
        {"name": tn.ROI_POLYGON, "data_type": "TYPE_FP32", "dims": [-1, 2], "optional": True}
    ]
    steps = config["ensemble_scheduling"]["step"]
    scorer_step = next(s for s in steps if s["model_name"] == tn.scorer_model_name("site_a"))
    assert scorer_step["input_map"][tn.ROI_POLYGON] == tn.ROI_POLYGON


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10,10 20,20", "expected 3 to 256 points"),
        ("10,10 20,x 30,5", "point 2 '20,x': expected X,Y"),
        ("10;10 20", "point 1 '10': expected X,Y"),
        ("0,0 10,10 20,20", "enclose no area"),
        ("0,0 1e9,0 0,5", "not a finite pixel position"),
        ("0,0 inf,0 0,5", "not a finite pixel position"),
    ],
)
def test_parse_roi_names_what_is_wrong(text, message):
    with pytest.raises(RoiError, match=message):
        parse_roi(text)


def test_parse_and_format_roi_round_trip():
    points = parse_roi("10,20 300,20; 300.5,400")
    assert points == ((10.0, 20.0), (300.0, 20.0), (300.5, 400.0))
    assert parse_roi(format_roi(points)) == points
    assert check_roi([[1, 2], [5, 2], [5, 9]]) == ((1.0, 2.0), (5.0, 2.0), (5.0, 9.0))
    with pytest.raises(RoiError, match="point 2: expected two numbers"):
        check_roi([[1, 2], [True, 2], [5, 9]])
