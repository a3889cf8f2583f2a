"""Features on analytic shapes: rectangles, half-discs, notches, one-sided loads, occluders."""

from __future__ import annotations

import math

import numpy as np
import pytest
from feature_shapes import bed_rect, truck

from loadcheck.features import FEATURE_SPEC, extract_features
from loadcheck.payloads import TruckMasks

# bed: x 100..499 (W_b = 400), y 200..299 (H_b = 100), rim at row 200


def test_fullness_is_one_when_load_covers_bed(bed):
    f = extract_features(truck(bed, bed.copy()))
    assert f["fullness"] == pytest.approx(1.0)
    assert f["fill_profile"] == pytest.approx(1.0)
    assert f["height_mean"] == pytest.approx(0.0, abs=0.011)
    assert f["rim_coverage"] == pytest.approx(1.0)
    assert f["roughness_pit_count"] == 0
    assert f["solidity"] == pytest.approx(1.0)


def test_load_filling_the_lower_half_gives_half_fullness(bed):
    load = bed.copy()
    load[:250] = False
    f = extract_features(truck(bed, load))
    assert f["fullness"] == pytest.approx(0.5, abs=0.01)
    assert f["fill_profile"] == pytest.approx(0.5, abs=0.01)
    assert f["height_mean"] == pytest.approx(-0.5, abs=0.01)
    assert f["rim_coverage"] == 0.0
    assert f["volume_below_rim"] == pytest.approx(0.5, abs=0.01)
    assert f["volume_above_rim"] == 0.0


def test_empty_bed_has_zero_fullness_and_heights_at_the_floor(bed):
    f = extract_features(truck(bed, np.zeros_like(bed)))
    assert f["fullness"] == 0.0
    assert f["height_min"] == f["height_max"] == -1.0
    assert f["load_width_ratio"] == 0.0
    assert f["load_confidence"] == 0.0 and f["load_mask_iou"] == 0.0
    assert f["solidity"] == 0.0


def test_half_disc_heap_above_the_rim_matches_its_analytic_area_and_height(bed):
    radius = 80
    yy, xx = np.mgrid[0 : bed.shape[0], 0 : bed.shape[1]]
    disc = ((xx + 0.5 - 300) ** 2 + (yy + 0.5 - 200) ** 2 <= radius**2) & (yy < 200)
    f = extract_features(truck(bed, bed | disc))
    assert f["volume_above_rim"] == pytest.approx(math.pi * radius**2 / 2 / (400 * 100), rel=0.02)
    assert f["height_max"] == pytest.approx(radius / 100, abs=0.02)
    assert f["fullness"] == pytest.approx(1.0)
    assert f["roughness_pit_count"] == 0  # a single heap holds no water
    assert f["balance_difference"] == pytest.approx(0.0, abs=0.01)


def test_a_notch_in_the_heap_is_one_pit_with_its_depth(bed):
    load = bed.copy()
    load[160:200, 100:500] = True  # a flat heap 0.4 bed heights above the rim
    load[160:190, 280:320] = False  # notch 30 px deep, 40 px wide
    f = extract_features(truck(bed, load))
    assert f["roughness_pit_count"] == 1
    assert f["roughness_pit_depth"] == pytest.approx(0.30, abs=0.02)
    assert f["solidity"] < 1.0


def test_two_notches_are_two_pits(bed):
    load = bed.copy()
    load[160:200, 100:500] = True
    load[160:190, 180:220] = False
    load[160:180, 380:420] = False
    f = extract_features(truck(bed, load))
    assert f["roughness_pit_count"] == 2
    assert f["roughness_pit_depth"] == pytest.approx(0.30, abs=0.02)


def test_shallow_dents_below_five_percent_are_not_pits(bed):
    load = bed.copy()
    load[160:200, 100:500] = True
    load[160:163, 280:320] = False  # 0.03 bed heights
    assert extract_features(truck(bed, load))["roughness_pit_count"] == 0


def test_a_load_on_the_left_half_is_unbalanced(bed):
    load = bed.copy()
    load[:, 300:] = False
    f = extract_features(truck(bed, load))
    assert f["balance_difference"] == pytest.approx(-1.0, abs=0.01)
    assert f["balance_asymmetry"] == pytest.approx(1.0, abs=0.01)
    assert f["balance_horizontal"] < -0.4
    assert f["load_width_ratio"] == pytest.approx(0.5, abs=0.01)
    assert f["fullness"] == pytest.approx(0.5, abs=0.01)


def test_a_gap_in_the_load_between_two_heaps_is_a_deep_pit(bed):
    load = bed.copy()
    load[:, 280:320] = False
    f = extract_features(truck(bed, load))
    assert f["roughness_pit_count"] == 1
    assert f["roughness_pit_depth"] == pytest.approx(1.0, abs=0.02)


def test_columns_hidden_by_a_pole_are_interpolated_not_pits(bed):
    load = bed.copy()
    load[160:200, 100:500] = True
    pole = np.zeros_like(bed)
    pole[:, 290:300] = True
    f = extract_features(truck(bed & ~pole, load & ~pole))
    assert f["roughness_pit_count"] == 0
    assert f["height_min"] == pytest.approx(0.4, abs=0.02)


def test_a_sloped_rim_is_followed(bed):
    # A parallelogram bed whose rim and floor rise 50 px over its 400 px width.
    h, w = bed.shape
    yy, xx = np.mgrid[0:h, 0:w]
    shift = (xx - 100) * 50 / 400
    sloped = (xx >= 100) & (xx < 500) & (yy >= 200 - shift) & (yy < 300 - shift)
    f = extract_features(truck(sloped, sloped.copy()))
    assert f["fill_profile"] == pytest.approx(1.0, abs=0.01)
    assert abs(f["height_mean"]) < 0.03
    assert f["roughness_pit_count"] == 0


def test_features_do_not_depend_on_the_image_scale():
    small_bed = bed_rect(200, 320, (50, 100, 250, 150))
    big_bed = bed_rect(800, 1280, (200, 400, 1000, 600))
    small_load, big_load = small_bed.copy(), big_bed.copy()
    small_load[80:100, 50:150] = True
    big_load[320:400, 200:600] = True
    a = extract_features(truck(small_bed, small_load)).values
    b = extract_features(truck(big_bed, big_load)).values
    np.testing.assert_allclose(a, b, atol=0.03)


def test_confidences_are_passed_through(bed):
    f = extract_features(
        truck(
            bed,
            bed.copy(),
            bed_confidence=0.9,
            load_confidence=0.8,
            bed_mask_iou=0.7,
            load_mask_iou=0.6,
        )
    )
    assert (f["bed_confidence"], f["load_confidence"]) == pytest.approx((0.9, 0.8))
    assert (f["bed_mask_iou"], f["load_mask_iou"]) == pytest.approx((0.7, 0.6))


def test_an_empty_bed_mask_gives_the_no_truck_vector():
    empty = np.zeros((50, 80), bool)
    f = extract_features(TruckMasks(empty, empty, (0, 0, 0, 0)))
    assert f.spec_version == FEATURE_SPEC.version
    assert f.names == FEATURE_SPEC.names
    assert f["fullness"] == 0.0 and f["height_mean"] == -1.0 and f["bed_area_fraction"] == 0.0


def test_bed_geometry_features_describe_the_box(bed):
    f = extract_features(truck(bed, bed.copy()))
    assert f["bed_aspect"] == pytest.approx(4.0)
    assert f["bed_area_fraction"] == pytest.approx(400 * 100 / (640 * 400))
    assert f["load_area_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize(("h", "w", "share"), [(1, 1, 0.0), (5, 7, 0.3), (300, 200, 0.02)])
def test_fast_column_extremes_match_argmax(h, w, share):
    from loadcheck.features.profile import first_true_row, last_true_row

    mask = np.random.default_rng(h).random((h, w)) < share
    np.testing.assert_array_equal(first_true_row(mask), np.argmax(mask, axis=0))
    np.testing.assert_array_equal(last_true_row(mask), h - 1 - np.argmax(mask[::-1], axis=0))
