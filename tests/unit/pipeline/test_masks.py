"""SAM low-resolution logits back to masks at the original resolution."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.pipeline.masks import MaskRefinement, upsample_masks
from loadcheck.pipeline.prompts import SamRegion


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


# --- guided-filter refinement -------------------------------------------------------------


def _photo_with_edge(h: int, w: int, row: int) -> np.ndarray:
    """Sky (bright) above ``row``, a dark load below: the edge a load mask's top should follow."""
    rgb = np.full((h, w, 3), 210, np.uint8)
    rgb[row:] = 60
    return rgb


def _logits_with_top(side: int, top_low_res: float) -> np.ndarray:
    """Low-res logits of a mask whose top crosses 0 at ``top_low_res`` (a soft ramp, as SAM's)."""
    rows = np.arange(side // 4, dtype=np.float32)[:, None]
    low = np.broadcast_to(2.0 * (rows - top_low_res), (side // 4, side // 4))
    return np.ascontiguousarray(low)[None, None]


def _top_row(mask: np.ndarray) -> float:
    return float(np.argmax(mask.any(axis=1)))


@pytest.mark.parametrize("top_low_res", [23.5, 24.0, 25.0, 25.5, 26.0])
def test_refinement_pulls_a_coarse_mask_edge_towards_the_photos_edge(top_low_res):
    side, h, w = 256, 256, 256  # region = image, scale 1: one low-res px = 4 px
    region = SamRegion(0, 0, w, h)
    rgb = _photo_with_edge(h, w, row=100)
    low = _logits_with_top(side, top_low_res)  # SAM's edge 2-6 px above or below the photo's
    plain = upsample_masks(low, region, (w, h), side)[0]
    refined = upsample_masks(low, region, (w, h), side, rgb=rgb, refine=MaskRefinement())[0]
    assert abs(_top_row(plain) - 100) >= 2
    assert abs(_top_row(refined) - 100) < abs(_top_row(plain) - 100)


def test_refinement_smooths_a_ragged_edge_where_the_photo_has_none():
    side, h, w = 256, 256, 256
    region = SamRegion(0, 0, w, h)
    rgb = np.full((h, w, 3), 128, np.uint8)  # a flat photo: nothing to follow, only noise to drop
    low = _logits_with_top(side, top_low_res=20.0).copy()
    low[0, 0, :, 30] = -10.0  # a one-low-res-column notch through the whole mask
    plain = upsample_masks(low, region, (w, h), side)[0]
    refined = upsample_masks(low, region, (w, h), side, rgb=rgb, refine=MaskRefinement())[0]
    assert not plain[150, 121:123].any()  # the notch cuts the plain mask
    assert refined[150, 116:128].all()  # and is closed by the refinement
    assert abs(_top_row(refined) - _top_row(plain)) <= 2  # the straight top stays where it was


def test_refinement_radius_follows_sams_resolution_not_the_photos_size():
    refine = MaskRefinement(radius=3.0)
    assert refine.radius_px(SamRegion(0, 0, 512, 300), 512) == 12  # 1 low-res px = 4 px
    assert refine.radius_px(SamRegion(0, 0, 1024, 600), 512) == 24  # 8 px
    assert MaskRefinement(radius=0.01).radius_px(SamRegion(0, 0, 64, 64), 512) == 1


def test_refinement_off_gives_exactly_the_plain_masks():
    side = 128
    region = SamRegion(10, 20, 100, 60)
    low = np.random.default_rng(0).normal(0, 3, (2, 1, 32, 32)).astype(np.float32)
    rgb = np.random.default_rng(1).integers(0, 255, (90, 140, 3), dtype=np.uint8)
    plain = upsample_masks(low, region, (140, 90), side)
    off = upsample_masks(low, region, (140, 90), side, rgb=rgb, refine=MaskRefinement(radius=0))
    np.testing.assert_array_equal(plain, off)


def test_refinement_keeps_masks_inside_the_region_and_empty_masks_empty():
    side = 128
    region = SamRegion(40, 30, 64, 64)
    low = np.full((2, 1, 32, 32), -10.0, np.float32)
    low[0, 0, 8:24, 8:24] = 10.0
    rgb = np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    masks = upsample_masks(low, region, (160, 120), side, rgb=rgb, refine=MaskRefinement())
    assert masks[0].any() and not masks[1].any()
    outside = masks[0].copy()
    outside[30:94, 40:104] = 0
    assert not outside.any()


@pytest.mark.parametrize(
    ("rgb", "match"),
    [
        (None, r"uint8 \[60, 80, 3\], got None"),
        (np.zeros((60, 81, 3), np.uint8), r"uint8 \[60, 80, 3\], got uint8 \(60, 81, 3\)"),
        (np.zeros((60, 80, 3), np.float32), r"uint8 \[60, 80, 3\], got float32 \(60, 80, 3\)"),
    ],
)
def test_refinement_needs_the_photo_and_says_which_shape(rgb, match):
    low = np.zeros((1, 1, 32, 32), np.float32)
    with pytest.raises(ValueError, match=match):
        upsample_masks(
            low, SamRegion(0, 0, 80, 60), (80, 60), 128, rgb=rgb, refine=MaskRefinement()
        )


@pytest.mark.parametrize(
    ("radius", "eps", "match"),
    [(-1.0, 0.1, "radius"), (float("nan"), 0.1, "radius"), (3.0, 0.0, "eps"), (3.0, -1, "eps")],
)
def test_bad_refinement_settings_are_named(radius, eps, match):
    with pytest.raises(ValueError, match=match):
        MaskRefinement(radius, eps)


def test_the_cli_defaults_are_the_refinement_defaults():
    import inspect

    from loadcheck.serving.cli import build_command

    params = inspect.signature(build_command).parameters
    assert params["mask_refine_radius"].default.default == MaskRefinement().radius
    assert params["mask_refine_eps"].default.default == MaskRefinement().eps
