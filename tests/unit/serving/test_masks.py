"""SAM low-resolution logits back to masks at the original resolution."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.serving.masks import upsample_masks
from loadcheck.serving.prompts import SamRegion


def _logits_for(box_sam: tuple[int, int, int, int], side: int) -> np.ndarray:
    low = np.full((1, 1, side // 4, side // 4), -10.0, np.float32)
    x0, y0, x1, y1 = (v // 4 for v in box_sam)
    low[0, 0, y0:y1, x0:x1] = 10.0
    return low


def test_whole_frame_masks_land_where_the_box_is_in_the_original_image():
    side = 256
    region = SamRegion(0, 0, 512, 256)  # scale 0.5, valid area 256 x 128
    masks = upsample_masks(_logits_for((64, 32, 128, 96), side), region, (512, 256), side)
    assert masks.shape == (1, 256, 512) and masks.dtype == np.uint8
    ys, xs = np.nonzero(masks[0])
    assert abs(xs.min() - 128) <= 4 and abs(xs.max() - 255) <= 4
    assert abs(ys.min() - 64) <= 4 and abs(ys.max() - 191) <= 4


def test_crop_masks_are_pasted_at_the_region_and_zero_elsewhere():
    side = 128
    region = SamRegion(300, 100, 64, 64)  # scale 2
    masks = upsample_masks(_logits_for((0, 0, 128, 128), side), region, (640, 480), side)
    assert masks[0].sum() == 64 * 64
    assert masks[0, 100:164, 300:364].all()


def test_no_boxes_give_an_empty_mask_stack_of_the_image_size():
    masks = upsample_masks(
        np.zeros((0, 1, 64, 64), np.float32), SamRegion(0, 0, 40, 30), (40, 30), 256
    )
    assert masks.shape == (0, 30, 40)


def test_bad_logit_shapes_are_named():
    with pytest.raises(ValueError, match="low_res_masks"):
        upsample_masks(np.zeros((2, 2), np.float32), SamRegion(0, 0, 4, 4), (4, 4), 16)
