"""YOLO decoding, NMS, class maps and the SAM region of the prompts step."""

from __future__ import annotations

import numpy as np
import pytest

from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Detections
from loadcheck.pipeline.preprocess import Letterbox
from loadcheck.pipeline.prompts import (
    DetectorSettings,
    SamFrame,
    SamRegion,
    boxes_to_sam,
    decode_yolo,
    format_class_map,
    nms,
    parse_class_map,
    remap_classes,
    sam_input,
    sam_region,
    select_prompts,
)


@pytest.mark.parametrize(
    ("boxes", "scores", "iou", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], 0.5, [0]),
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.8, 0.9], 0.5, [1]),
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], 0.9, [0, 1]),
        ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.9], 0.1, [1, 0]),
        ([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], [0.3, 0.2, 0.1], 0.5, [0]),
    ],
)
def test_nms_keeps_the_best_of_overlapping_boxes(boxes, scores, iou, kept):
    result = nms(np.array(boxes, np.float32), np.array(scores, np.float32), iou)
    assert result.tolist() == kept


def _raw(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, np.float32)[None]


def test_decode_yolo_maps_boxes_back_to_original_pixels_and_filters_by_confidence():
    transform = Letterbox(scale=0.5, pad_x=0.0, pad_y=20.0)
    raw = _raw(
        [
            [50, 70, 20, 20, 1.0, 0.9, 0.1],  # bed: 40..60, 60..80 -> orig 80..120, 80..120
            [150, 70, 20, 20, 1.0, 0.2, 0.1],  # below threshold
            [52, 72, 20, 20, 0.5, 0.05, 0.9],  # load (0.45), overlaps the bed: other class
        ]
    )
    found = decode_yolo(raw, transform, (400, 300), DetectorSettings(0.25, 0.45, 100))
    assert len(found) == 2
    np.testing.assert_allclose(found.xyxy[0], [80, 80, 120, 120])
    assert found.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(found.confidence, [0.9, 0.45], rtol=1e-6)


def test_decode_yolo_keeps_a_load_that_shares_its_position_with_a_higher_scoring_bed():
    # A full load's box nearly coincides with its bed's: one position can carry both classes.
    raw = _raw([[50, 50, 40, 20, 1.0, 0.9, 0.7]])
    found = decode_yolo(raw, Letterbox(1, 0, 0), (640, 640), DetectorSettings(0.25, 0.45, 10))
    assert sorted(found.class_id.tolist()) == [0, 1]
    np.testing.assert_allclose(sorted(found.confidence.tolist()), [0.7, 0.9], rtol=1e-6)


def test_decode_yolo_suppresses_same_class_duplicates_and_honours_max_det():
    raw = _raw(
        [[50, 50, 20, 20, 1.0, 0.9, 0.0], [51, 51, 20, 20, 1.0, 0.8, 0.0]]
        + [[200 + 30 * i, 50, 10, 10, 1.0, 0.7, 0.0] for i in range(5)]
    )
    found = decode_yolo(raw, Letterbox(1, 0, 0), (640, 640), DetectorSettings(0.25, 0.45, 3))
    assert len(found) == 3
    assert found.confidence[0] == pytest.approx(0.9)


def test_decoded_boxes_are_clipped_to_the_image():
    raw = _raw([[5, 5, 40, 40, 1.0, 0.9, 0.0]])
    found = decode_yolo(raw, Letterbox(1, 0, 0), (30, 30), DetectorSettings())
    np.testing.assert_allclose(found.xyxy[0], [0, 0, 25, 25])


def test_decode_yolo_names_the_expected_shape_on_bad_input():
    with pytest.raises(ValueError, match=r"\[N, 5 \+ C\]"):
        decode_yolo(np.zeros((3, 4), np.float32), Letterbox(1, 0, 0), (10, 10), DetectorSettings())


def test_class_map_round_trips_and_drops_unknown_classes():
    mapping = parse_class_map(format_class_map({"bed": 2, "load": 0}))
    assert mapping == {2: BED_CLASS_ID, 0: LOAD_CLASS_ID}
    det = Detections(np.zeros((3, 4)), [0.5, 0.6, 0.7], [0, 1, 2])
    assert remap_classes(det, mapping).class_id.tolist() == [LOAD_CLASS_ID, BED_CLASS_ID]
    with pytest.raises(ValueError, match="bed=<id>"):
        parse_class_map("truck=1")


def test_prompts_put_the_largest_bed_first_then_loads():
    det = Detections(
        [[0, 0, 10, 10], [0, 0, 50, 50], [5, 5, 8, 8], [0, 0, 30, 30]],
        [0.9, 0.5, 0.7, 0.8],
        [BED_CLASS_ID, BED_CLASS_ID, LOAD_CLASS_ID, BED_CLASS_ID],
    )
    chosen = select_prompts(det)
    assert chosen.class_id.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(chosen.xyxy[:, 2], [50, 30, 10, 8])


def test_sam_region_is_the_whole_frame_or_the_grown_union_of_boxes():
    det = Detections([[100, 100, 200, 150], [150, 120, 300, 180]], [0.9, 0.9], [0, 1])
    assert sam_region(det, (640, 480), SamFrame.WHOLE) == SamRegion(0, 0, 640, 480)
    crop = sam_region(det, (640, 480), SamFrame.CROP, margin=0.1)
    assert crop == SamRegion(80, 92, 240, 96)
    assert sam_region(Detections.empty(), (640, 480), SamFrame.CROP) == SamRegion(0, 0, 640, 480)
    edge = sam_region(Detections([[0, 0, 640, 480]], [0.9], [0]), (640, 480), SamFrame.CROP)
    assert edge == SamRegion(0, 0, 640, 480)


def test_boxes_map_into_the_sam_frame_of_the_region():
    region = SamRegion(100, 50, 400, 200)  # longest side 400 -> scale 256/400
    mapped = boxes_to_sam(np.array([[100, 50, 500, 250]], np.float32), region, 256)
    np.testing.assert_allclose(mapped, [[0, 0, 256, 128]], atol=1e-4)


def test_sam_input_resizes_the_region_and_pads_bottom_right():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:, 100:] = 255
    out = sam_input(rgb, SamRegion(100, 0, 100, 50), 64, pad_rgb=(1, 2, 3))
    assert out.shape == (64, 64, 3)
    assert np.all(out[:32] == 255)
    assert out[40, 10].tolist() == [1, 2, 3]


def test_no_box_becomes_one_dummy_prompt_so_the_decoder_never_sees_k_zero():
    mapped = boxes_to_sam(np.zeros((0, 4), np.float32), SamRegion(0, 0, 640, 480), 256)
    assert mapped.shape == (1, 4)


def test_a_zero_size_box_on_the_image_edge_still_gives_a_region_inside_the_image():
    det = Detections([[0, 32, 0, 32]], [0.9], [0])
    region = sam_region(det, (32, 32), SamFrame.CROP)
    assert region.y0 + region.h <= 32 and region.w >= 1 and region.h >= 1
    assert sam_input(np.zeros((32, 32, 3), np.uint8), region, 64).shape == (64, 64, 3)


def test_a_load_prompt_gets_a_positive_point_at_its_lower_middle_and_a_bed_none():
    from loadcheck.pipeline.prompts import LOAD_POINT_DEPTH, prompt_points

    boxes = np.array([[10, 20, 110, 70], [10, 20, 110, 70]], np.float32)
    coords, labels = prompt_points(boxes, np.array([BED_CLASS_ID, LOAD_CLASS_ID]))
    assert coords.shape == (2, 1, 2) and labels.shape == (2, 1)
    assert labels[:, 0].tolist() == [-1.0, 1.0]  # SAM: -1 no point, 1 foreground
    np.testing.assert_allclose(coords[1, 0], [60.0, 20 + LOAD_POINT_DEPTH * 50])
    np.testing.assert_allclose(coords[0, 0], [0.0, 0.0])


def test_decoder_prompts_keep_k_at_least_one_and_disagreeing_lengths_fail():
    from loadcheck import tensor_names as tn
    from loadcheck.pipeline.prompts import decoder_prompts, prompt_points

    feeds = decoder_prompts(Detections.empty(), SamRegion(0, 0, 640, 480), 256)
    assert feeds[tn.SAM_DECODER_BOXES].shape == (1, 4)
    assert feeds[tn.SAM_DECODER_POINT_COORDS].shape == (1, 1, 2)
    assert feeds[tn.SAM_DECODER_POINT_LABELS].tolist() == [[-1.0]]
    region = SamRegion(100, 50, 400, 200)
    det = Detections([[100, 50, 500, 250]], [0.9], [LOAD_CLASS_ID])
    feeds = decoder_prompts(det, region, 256)
    np.testing.assert_allclose(feeds[tn.SAM_DECODER_POINT_COORDS][0, 0], [128, 0.8 * 128])
    with pytest.raises(ValueError, match="2 boxes but 1 class ids"):
        prompt_points(np.zeros((2, 4)), np.zeros(1))


def test_nms_stopped_at_max_keep_keeps_the_same_first_boxes() -> None:
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 500, (400, 2)).astype(np.float32)
    xyxy = np.concatenate([corner, corner + rng.uniform(5, 80, (400, 2))], axis=1)
    scores = rng.uniform(0, 1, 400).astype(np.float32)
    full = nms(xyxy, scores, 0.45)
    assert len(full) > 20
    np.testing.assert_array_equal(nms(xyxy, scores, 0.45, max_keep=20), full[:20])
