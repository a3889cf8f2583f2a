from __future__ import annotations

import numpy as np
import pytest
from client_fakes import integrator_outputs

from loadcheck.client.decode import decode_inspection
from loadcheck.client.overlay import CLASS_COLORS, VERDICT_COLORS, render_overlay
from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, InspectionResult, SegmentationMasks

H, W = 240, 320


def result(verdict: str = "Qualified", masks: bool = True) -> InspectionResult:
    outputs = integrator_outputs(verdict, 0.7, size_hw=(H, W))
    if masks:
        outputs["MASKS"][:] = 0
        outputs["MASKS"][0, 100:200, 150:300] = 1  # bed, away from the text banner
        outputs["MASKS"][1, 120:160, 170:280] = 1  # load inside the bed
        outputs["BOXES_XYXY"] = np.array([[150, 100, 300, 200], [170, 120, 280, 160]], np.float32)
    else:
        del outputs["MASKS"], outputs["MASK_IOU"]
    return decode_inspection(outputs, model="integrator_x")


def test_overlay_is_an_rgb_image_of_the_input_size_and_leaves_the_input_alone() -> None:
    image = np.full((H, W, 3), 60, np.uint8)
    before = image.copy()
    out = render_overlay(image, result())
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    assert np.array_equal(image, before)
    assert not np.array_equal(out, image)


def test_masks_are_tinted_with_their_class_colour() -> None:
    out = render_overlay(np.full((H, W, 3), 60, np.uint8), result()).astype(int)
    load_px = out[140, 225]  # inside the load mask
    bed_px = out[185, 200]  # in the bed, below the load
    assert np.argmax(load_px) == int(np.argmax(CLASS_COLORS[LOAD_CLASS_ID]))
    assert np.argmax(bed_px) == int(np.argmax(CLASS_COLORS[BED_CLASS_ID]))
    assert tuple(out[20, 310]) == (60, 60, 60)  # outside everything


@pytest.mark.parametrize("verdict", ["Qualified", "Unqualified", "No Mine Detected"])
def test_the_banner_has_the_colour_of_the_verdict(verdict: str) -> None:
    out = render_overlay(np.zeros((H, W, 3), np.uint8), result(verdict, masks=False))
    banner = out[4:24, 4:60].reshape(-1, 3).astype(int)
    values, counts = np.unique(banner, axis=0, return_counts=True)
    dominant = values[np.argmax(counts)]  # the banner fill; text and boxes are thin
    colour = np.array(VERDICT_COLORS[result(verdict).score_result])
    assert np.abs(dominant - 0.65 * colour).max() <= 1


def test_masks_of_another_resolution_are_resized() -> None:
    res = result()
    small = SegmentationMasks(res.masks.mask_hw[:, ::2, ::2], res.masks.iou_prediction)  # type: ignore[union-attr]
    res2 = InspectionResult(
        res.score_result, res.probability, res.threshold, res.features, res.detections, masks=small
    )
    out = render_overlay(np.full((H, W, 3), 60, np.uint8), res2)
    assert out.shape == (H, W, 3)
