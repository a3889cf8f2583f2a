"""Property tests: any pair of masks gives finite values inside the documented ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from loadcheck.features import FEATURE_SPEC, extract_features, split_trucks_from_masks
from loadcheck.payloads import TruckMasks


@st.composite
def mask_pairs(draw):
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    kind = draw(st.sampled_from(["random", "boxes", "empty"]))
    if kind == "random":
        bed = draw(arrays(np.bool_, (h, w)))
        load = draw(arrays(np.bool_, (h, w)))
    else:
        bed = np.zeros((h, w), bool)
        load = np.zeros((h, w), bool)
        if kind == "boxes":
            for mask in (bed, load):
                y1, y2 = sorted(draw(st.tuples(st.integers(0, h), st.integers(0, h))))
                x1, x2 = sorted(draw(st.tuples(st.integers(0, w), st.integers(0, w))))
                mask[y1:y2, x1:x2] = True
    return bed, load


def _check_ranges(values: np.ndarray) -> None:
    assert np.all(np.isfinite(values))
    for feature, value in zip(FEATURE_SPEC.features, values, strict=True):
        assert feature.low <= value <= feature.high, (feature.name, float(value))


@settings(max_examples=300, deadline=None)
@given(mask_pairs(), st.floats(0, 1), st.floats(0, 1))
def test_any_pair_of_masks_gives_finite_values_in_the_documented_ranges(pair, conf, iou):
    bed, load = pair
    t = TruckMasks(bed, load, (0, 0, 1, 1), None, conf, conf, iou, iou)
    _check_ranges(extract_features(t).values)


@settings(max_examples=100, deadline=None)
@given(mask_pairs())
def test_every_truck_split_from_union_masks_gives_values_in_range(pair):
    bed, load = pair
    for t in split_trucks_from_masks(bed, load):
        assert t.bed_mask.any()
        _check_ranges(extract_features(t).values)
