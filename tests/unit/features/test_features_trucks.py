"""Grouping detections into trucks, and splitting union masks into trucks."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.features import group_trucks, split_trucks_from_masks
from loadcheck.payloads import (
    BED_CLASS_ID,
    LOAD_CLASS_ID,
    Detections,
    PayloadError,
    SegmentationMasks,
)

H, W = 200, 400


def _box_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y1:y2, x1:x2] = True
    return m


def _scene(boxes, classes, confidences=None):
    masks = np.stack([_box_mask(*b) for b in boxes]) if boxes else np.zeros((0, H, W), bool)
    n = len(boxes)
    dets = Detections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(confidences or [0.9] * n, np.float32),
        np.asarray(classes, np.int32),
    )
    return dets, SegmentationMasks(masks, np.linspace(0.5, 0.9, n, dtype=np.float32))


def test_each_bed_gets_the_loads_lying_over_it_largest_bed_first():
    dets, masks = _scene(
        [(10, 100, 110, 150), (200, 80, 380, 160), (20, 80, 100, 110), (210, 50, 370, 90)],
        [BED_CLASS_ID, BED_CLASS_ID, LOAD_CLASS_ID, LOAD_CLASS_ID],
        [0.9, 0.8, 0.7, 0.6],
    )
    trucks = group_trucks(dets, masks)
    assert [t.bed_xyxy for t in trucks] == [(200, 80, 380, 160), (10, 100, 110, 150)]
    assert trucks[0].load_xyxy == (210, 50, 370, 90)
    assert trucks[0].load_confidence == pytest.approx(0.6)
    assert trucks[0].bed_confidence == pytest.approx(0.8)
    assert trucks[1].load_mask.sum() == 80 * 30
    assert not (trucks[0].load_mask & trucks[1].load_mask).any()


def test_a_load_away_from_every_bed_is_ignored():
    dets, masks = _scene([(10, 100, 110, 150), (250, 10, 390, 40)], [BED_CLASS_ID, LOAD_CLASS_ID])
    (truck,) = group_trucks(dets, masks)
    assert not truck.load_mask.any()
    assert truck.load_xyxy is None and truck.load_confidence == 0.0


def test_two_loads_over_one_bed_are_merged():
    dets, masks = _scene(
        [(10, 100, 210, 150), (10, 80, 100, 110), (110, 80, 200, 110)],
        [BED_CLASS_ID, LOAD_CLASS_ID, LOAD_CLASS_ID],
    )
    (truck,) = group_trucks(dets, masks)
    assert truck.load_xyxy == (10, 80, 200, 110)


def test_no_bed_detection_means_no_truck():
    dets, masks = _scene([(10, 10, 50, 50)], [LOAD_CLASS_ID])
    assert group_trucks(dets, masks) == []
    assert group_trucks(Detections.empty(), SegmentationMasks.empty((W, H))) == []


def test_group_trucks_rejects_masks_not_aligned_with_detections():
    dets, _ = _scene([(10, 10, 50, 50)], [BED_CLASS_ID])
    with pytest.raises(PayloadError, match="one mask per detection"):
        group_trucks(dets, SegmentationMasks.empty((W, H)))


def test_two_separate_beds_become_two_trucks_with_their_own_load():
    bed = _box_mask(10, 100, 110, 150) | _box_mask(200, 80, 380, 160)
    load = _box_mask(20, 90, 100, 150) | _box_mask(210, 60, 370, 160)
    trucks = split_trucks_from_masks(bed, load)
    assert [t.bed_xyxy for t in trucks] == [(200, 80, 380, 160), (10, 100, 110, 150)]
    assert trucks[0].load_xyxy == (210, 60, 370, 160)
    assert trucks[1].load_xyxy == (20, 90, 100, 150)


def test_a_bed_cut_by_a_pole_stays_one_truck():
    bed = _box_mask(100, 100, 300, 150) & ~_box_mask(190, 0, 200, H)
    trucks = split_trucks_from_masks(bed, np.zeros_like(bed))
    assert len(trucks) == 1
    assert trucks[0].bed_xyxy == (100, 100, 300, 150)


def test_touching_beds_at_different_heights_are_two_trucks():
    near = _box_mask(50, 120, 200, 180)
    far = _box_mask(200, 90, 330, 130)
    trucks = split_trucks_from_masks(near | far, np.zeros((H, W), bool))
    assert [t.bed_xyxy for t in trucks] == [(50, 120, 200, 180), (200, 90, 330, 130)]


def test_specks_and_empty_masks_give_no_truck():
    bed = np.zeros((H, W), bool)
    assert split_trucks_from_masks(bed, bed) == []
    bed[5, 5] = True
    assert split_trucks_from_masks(bed, bed) == []


def test_split_rejects_masks_of_different_shapes():
    with pytest.raises(PayloadError, match="one shape"):
        split_trucks_from_masks(np.zeros((4, 4)), np.zeros((4, 5)))


def test_the_scored_truck_is_the_most_prominent_loaded_one_else_the_most_prominent():
    from loadcheck.features.trucks import is_loaded, scored_truck
    from loadcheck.payloads import TruckMasks

    big = _box_mask(10, 50, 210, 150)
    small = _box_mask(250, 80, 350, 130)
    empty_big = TruckMasks(big, np.zeros_like(big), (10, 50, 210, 150))
    noisy_big = TruckMasks(big, _box_mask(10, 148, 30, 150), (10, 50, 210, 150))  # 40 px
    loaded_small = TruckMasks(small, _box_mask(250, 100, 350, 130), (250, 80, 350, 130))
    assert not is_loaded(empty_big) and not is_loaded(noisy_big) and is_loaded(loaded_small)
    assert scored_truck([noisy_big, loaded_small]) is loaded_small
    assert scored_truck([empty_big, noisy_big]) is empty_big
    assert scored_truck([]) is None
