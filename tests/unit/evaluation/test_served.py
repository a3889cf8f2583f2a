"""loadcheck.evaluation.served: the evaluations serve exactly what the runner serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadcheck.evaluation.served import ServedPipeline, kept_at, served_trucks
from loadcheck.payloads import Detections
from loadcheck.pipeline.cards import CardError
from loadcheck.pipeline.prompts import SamFrame
from loadcheck.synth import render_scene

pytestmark = pytest.mark.torch
SIZE = (320, 180)


@pytest.fixture(scope="module")
def pipeline(tiny_models: Path) -> ServedPipeline:
    return ServedPipeline.from_networks(tiny_models)


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [render_scene(3, i, SIZE).encode_jpeg() for i in range(2)]


def test_the_detections_and_masks_are_those_the_runner_serves(
    pipeline: ServedPipeline, jpegs: list[bytes]
) -> None:
    for jpeg in jpegs:
        served = pipeline.runner.segment(jpeg)
        photo = pipeline.photo(jpeg)
        found = pipeline.detect(photo)
        assert np.array_equal(found.xyxy, served.detections.xyxy)
        assert np.array_equal(found.class_id, served.detections.class_id)
        masks = pipeline.segment(photo, found)
        assert np.array_equal(masks.mask_hw, served.masks.mask_hw.astype(bool))
        assert np.allclose(masks.iou_prediction, served.masks.iou_prediction)


def test_detections_decoded_lower_keep_every_served_one_in_the_served_order(
    pipeline: ServedPipeline, jpegs: list[bytes]
) -> None:
    photo = pipeline.photo(jpegs[0])
    served = pipeline.detect(photo)
    low = pipeline.detect(photo, conf_thres=0.01, max_det=1000)
    assert len(low) >= len(served)
    kept = kept_at(low, pipeline.detector.conf_thres)
    assert np.array_equal(kept.xyxy, served.xyxy)
    assert np.array_equal(kept.confidence, served.confidence)


def test_a_region_is_encoded_once_per_photo_whatever_the_prompts(
    pipeline: ServedPipeline, jpegs: list[bytes]
) -> None:
    photo = pipeline.photo(jpegs[0])
    found = pipeline.detect(photo)
    pipeline.segment(photo, found, SamFrame.WHOLE)
    pipeline.segment(photo, found.of_class(0), SamFrame.WHOLE)  # the whole frame again
    assert len(photo.embeddings) == 1
    small = Detections(np.array([[40, 40, 80, 70]], np.float32), np.ones(1, np.float32), [0])
    pipeline.segment(photo, small, SamFrame.CROP)  # the crop around one small box
    assert len(photo.embeddings) == 2


def test_no_prompts_give_no_masks_and_no_trucks(
    pipeline: ServedPipeline, jpegs: list[bytes]
) -> None:
    photo = pipeline.photo(jpegs[0])
    none = kept_at(pipeline.detect(photo), 2.0)  # above any confidence: nothing kept
    masks = pipeline.segment(photo, none)
    assert masks.mask_hw.shape == (0, SIZE[1], SIZE[0])
    assert served_trucks(pipeline, photo, none) == []
    assert not photo.embeddings  # SAM never ran


def test_the_card_facts_name_each_network_file(pipeline: ServedPipeline) -> None:
    facts = pipeline.card_facts()
    assert facts["detector"]["file"] == "detector.onnx"
    assert set(facts) == {"detector", "sam_encoder", "sam_decoder"}
    assert pipeline.sam_side == 256


def test_a_folder_without_cards_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CardError):
        ServedPipeline.from_networks(tmp_path)
