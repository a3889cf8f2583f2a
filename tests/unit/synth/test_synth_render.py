"""render_scene: truth consistent with the picture, overrides, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.payloads import TruckMasks, Verdict
from loadcheck.synth import render_scene
from loadcheck.synth.geometry import VIEWS
from loadcheck.synth.scene import SynthTruck, mask_xyxy

SIZE = (320, 180)


def _above_rim_is_over_the_bed(truck: SynthTruck) -> bool:
    """Load pixels outside the bed lie over the rim's x-extent and above the rim line."""
    q = truck.quad_xy
    rows, cols = np.nonzero(truck.load_mask & ~truck.bed_mask)
    if rows.size == 0:
        return True
    xc, yc = cols + 0.5, rows + 0.5
    lo, hi = sorted((q[0, 0], q[1, 0]))
    slope = (q[1, 1] - q[0, 1]) / (q[1, 0] - q[0, 0])
    y_rim = q[0, 1] + (xc - q[0, 0]) * slope
    return bool(np.all((xc >= lo) & (xc <= hi) & (yc < y_rim)))


def test_same_seed_and_index_give_the_same_scene():
    a = render_scene(11, 5, SIZE)
    b = render_scene(11, 5, SIZE)
    assert np.array_equal(a.image_rgb, b.image_rgb)
    assert np.array_equal(a.bed_mask, b.bed_mask)
    assert np.array_equal(a.load_mask, b.load_mask)
    assert a.to_record("x") == b.to_record("x")
    assert a.encode_jpeg() == b.encode_jpeg()


@pytest.mark.parametrize(
    "appearance",
    [
        {"lighting": "night"},
        {"lighting": "day"},
        {"mineral": "coal"},
        {"haze": 0.4},
        {"motion_blur_px": 9},
        {"jpeg_quality": 35},
    ],
)
def test_appearance_overrides_leave_the_truth_unchanged(appearance):
    for index in (0, 1, 2):
        plain = render_scene(14, index, SIZE)
        styled = render_scene(14, index, SIZE, **appearance)
        assert np.array_equal(plain.bed_mask, styled.bed_mask)
        assert np.array_equal(plain.load_mask, styled.load_mask)
        assert plain.label is styled.label


def test_other_seed_or_index_gives_another_scene():
    a = render_scene(11, 5, SIZE)
    assert not np.array_equal(a.image_rgb, render_scene(12, 5, SIZE).image_rgb)
    assert not np.array_equal(a.image_rgb, render_scene(11, 6, SIZE).image_rgb)


@pytest.mark.parametrize("index", range(40))
def test_masks_agree_with_the_truth(index):
    scene = render_scene(3, index, SIZE)
    w, h = SIZE
    assert scene.image_rgb.shape == (h, w, 3) and scene.image_rgb.dtype == np.uint8
    assert scene.bed_mask.shape == (h, w) and scene.bed_mask.dtype == bool
    bed_union = np.zeros((h, w), bool)
    load_union = np.zeros((h, w), bool)
    areas = []
    for truck in scene.trucks:
        assert _above_rim_is_over_the_bed(truck)
        assert truck.bed_xyxy == mask_xyxy(truck.bed_mask)
        assert truck.load_xyxy == mask_xyxy(truck.load_mask)
        assert 0.0 <= truck.fill_level <= 1.0
        assert truck.pit_depth >= 0.0
        assert 0.0 <= truck.occluded_share < 1.0
        assert truck.view == scene.view
        if truck.label is Verdict.NO_MINE_DETECTED:
            assert not truck.load_mask.any() and truck.fill_level == 0.0
        else:
            # A visible load that fills the bed covers most of the visible bed.
            visible_fill = (truck.load_mask & truck.bed_mask).sum() / truck.bed_mask.sum()
            if truck.occluded_share == 0.0:
                assert visible_fill == pytest.approx(truck.fill_level, abs=1e-9)
        bed_union |= truck.bed_mask
        load_union |= truck.load_mask
        areas.append(int(truck.bed_mask.sum()))
    assert np.array_equal(bed_union, scene.bed_mask)
    assert np.array_equal(load_union, scene.load_mask)
    assert areas == sorted(areas, reverse=True)  # most prominent first


def test_higher_fill_gives_a_larger_load_share_of_the_bed():
    shares = []
    for fill in (0.2, 0.4, 0.6, 0.8, 0.95):
        scene = render_scene(
            4, 0, SIZE, truck_count=1, load_shape="level_full", fill_level=fill, occluder="none"
        )
        (truck,) = scene.trucks
        share = (truck.load_mask & truck.bed_mask).sum() / truck.bed_mask.sum()
        assert truck.fill_level == pytest.approx(share)
        assert share == pytest.approx(fill, abs=0.06)
        shares.append(share)
    assert shares == sorted(shares) and len(set(shares)) == len(shares)


@pytest.mark.parametrize("view", VIEWS)
def test_a_heaped_load_rises_above_the_rim_in_every_view(view):
    scene = render_scene(5, 1, SIZE, view=view, truck_count=1, load_shape="heaped", occluder="none")
    (truck,) = scene.trucks
    above = truck.load_mask & ~truck.bed_mask
    assert above.any()
    assert truck.fill_level > 0.9
    assert truck.load_xyxy is not None and truck.load_xyxy[1] < truck.bed_xyxy[1]


def test_overrides_force_the_attributes():
    scene = render_scene(
        6,
        2,
        SIZE,
        view="elevated",
        truck_count=2,
        load_shape="level_full",
        mineral="coal",
        lighting="night",
        background="gravel",
        haze=0.3,
        motion_blur_px=5,
        jpeg_quality=40,
        occluder="pole",
        facing="right",
    )
    assert (scene.view, scene.mineral, scene.lighting, scene.background) == (
        "elevated",
        "coal",
        "night",
        "gravel",
    )
    assert (scene.haze, scene.motion_blur_px, scene.jpeg_quality, scene.occluder) == (
        0.3,
        5,
        40,
        "pole",
    )
    assert 1 <= scene.truck_count <= 2
    assert all(t.facing == "right" and t.load_shape == "level_full" for t in scene.trucks)


def test_a_fill_override_always_gives_loaded_trucks():
    for index in range(30):
        scene = render_scene(13, index, SIZE, fill_level=0.7, truck_count=2)
        assert all(t.has_load for t in scene.trucks)
        assert all(abs(t.fill_level - 0.7) < 0.08 for t in scene.trucks)


def test_a_pit_override_makes_the_truck_unqualified():
    kwargs = {"truck_count": 1, "load_shape": "level_full", "fill_level": 0.97}
    flat = render_scene(8, 3, SIZE, **kwargs)
    pitted = render_scene(8, 3, SIZE, pit_depth=0.35, **kwargs)
    assert flat.label is Verdict.QUALIFIED
    assert pitted.label is Verdict.UNQUALIFIED
    assert pitted.pit_depth == pytest.approx(0.35, abs=0.05)


def test_empty_trucks_and_no_trucks_give_no_mine_detected():
    empty = render_scene(9, 0, SIZE, truck_count=2, load_shape="empty")
    assert empty.label is Verdict.NO_MINE_DETECTED
    assert not empty.load_mask.any() and empty.bed_mask.any()
    assert empty.boxes()["load"] == []
    none = render_scene(9, 0, SIZE, truck_count=0)
    assert none.label is Verdict.NO_MINE_DETECTED and none.trucks == ()
    assert not none.bed_mask.any() and none.yolo_lines() == []


def test_a_truck_converts_to_the_feature_extractor_payload():
    scene = render_scene(10, 0, SIZE, truck_count=1, load_shape="heaped")
    masks = scene.trucks[0].to_truck_masks()
    assert isinstance(masks, TruckMasks)
    assert masks.resolution_wh == SIZE
    assert masks.bed_xyxy == scene.trucks[0].bed_xyxy


def test_yolo_lines_match_the_mask_boxes():
    scene = render_scene(12, 4, SIZE, truck_count=2, load_shape="heaped")
    w, h = SIZE
    boxes = []
    for line in scene.yolo_lines():
        cls, cx, cy, bw, bh = line.split()
        boxes.append((int(cls), (float(cx) - float(bw) / 2) * w, (float(cy) - float(bh) / 2) * h))
    expected = [(0, t.bed_xyxy[0], t.bed_xyxy[1]) for t in scene.trucks]
    expected += [(1, t.load_xyxy[0], t.load_xyxy[1]) for t in scene.trucks if t.load_xyxy]
    assert len(boxes) == len(expected)
    for got, want in zip(boxes, expected, strict=True):
        assert got[0] == want[0]
        assert got[1:] == pytest.approx(want[1:], abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"colour": "red"}, "unknown overrides"),
        ({"view": "top"}, "view"),
        ({"truck_count": 3}, "truck_count"),
        ({"fill_level": 1.5}, "fill_level"),
        ({"pit_depth": -0.1}, "pit_depth"),
        ({"load_shape": "round"}, "load_shape"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_scene(0, 0, SIZE, **kwargs)


@pytest.mark.parametrize("size", [(10, 10), (5000, 540), ("a", 3)])
def test_bad_sizes_are_refused(size):
    with pytest.raises(ValueError, match="size_wh"):
        render_scene(0, 0, size)
