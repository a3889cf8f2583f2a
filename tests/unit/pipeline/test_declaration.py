"""The segmentator's declaration: stages from the cards, wiring by tensor names."""

from __future__ import annotations

import dataclasses

import pytest
from network_cards import detector_card, encoder_card, synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import InputContract
from loadcheck.pipeline.declaration import (
    SEGMENTATOR_MODELS,
    DeclarationError,
    EnsembleStage,
    Segmentator,
    SegmentatorSettings,
    wire,
)
from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
from loadcheck.pipeline.tensors import spec


def test_the_stages_follow_the_declared_order_and_connect() -> None:
    seg = Segmentator.from_networks(synthetic_networks())
    assert tuple(s.name for s in seg.stages) == SEGMENTATOR_MODELS
    wires = seg.wires()
    assert wires[1].inputs == (tn.DETECTOR_INPUT,)
    assert set(wires[-1].outputs) == {tn.MASKS, tn.MASK_IOU}


def test_the_python_steps_take_their_settings_from_the_cards_and_the_site() -> None:
    settings = SegmentatorSettings(DetectorSettings(0.4, 0.3, 5), SamFrame.WHOLE, max_pixels=99)
    seg = Segmentator.from_networks(synthetic_networks(), settings)
    assert seg.preprocess.settings.size_hw == (640, 640)
    assert seg.preprocess.settings.max_pixels == 99
    assert seg.prompts.settings.detector == DetectorSettings(0.4, 0.3, 5)
    assert seg.prompts.settings.sam_frame is SamFrame.WHOLE
    assert seg.prompts.settings.sam_pad_rgb == tuple(encoder_card().pad_rgb)
    assert seg.masks.settings.sam_img_size == 1024


def test_a_float_nchw_detector_gets_float_nchw_input_from_preprocess() -> None:
    seg = Segmentator.from_networks(synthetic_networks(detector=detector_card(float_input=True)))
    assert seg.preprocess.settings.detector_input is InputContract.FLOAT32_NCHW_RGB_UNIT
    (image, *_) = seg.preprocess.outputs
    assert image.dtype == "float32" and image.shape == (1, 3, 640, 640)


def test_a_sam_size_other_than_the_encoders_is_refused() -> None:
    with pytest.raises(DeclarationError, match="differs from the exported encoder's S=1024"):
        Segmentator.from_networks(synthetic_networks(), SegmentatorSettings(sam_img_size=512))


def test_an_encoder_and_decoder_of_different_sizes_do_not_connect() -> None:
    with pytest.raises(DeclarationError, match="sam_decoder: input 'image_embeddings'"):
        Segmentator.from_networks(synthetic_networks(sam_encoder=encoder_card(512)))


def test_a_detector_with_in_graph_nms_is_refused() -> None:
    card = dataclasses.replace(detector_card(), nms="onnx")
    with pytest.raises(DeclarationError, match="in-graph NMS"):
        Segmentator.from_networks(synthetic_networks(detector=card))


def test_wire_names_the_missing_tensor_and_what_is_available() -> None:
    stage = EnsembleStage("b", (spec("y", "float32", 2),), (spec("z", "float32", 2),))
    with pytest.raises(DeclarationError, match="b: input 'y' is produced by no earlier stage"):
        wire([stage], [spec("x", "float32", 2)], [spec("z", "float32", 2)])


def test_wire_refuses_a_producer_and_consumer_that_disagree() -> None:
    first = EnsembleStage("a", (spec("x", "bytes", 1),), (spec("y", "uint8", 3),))
    second = EnsembleStage("b", (spec("y", "float32", 3),), (spec("z", "float32", 3),))
    with pytest.raises(DeclarationError, match="expects float32 \\[3\\] but a gives uint8"):
        wire([first, second], [spec("x", "bytes", 1)], [spec("z", "float32", 3)])


def test_wire_refuses_an_ensemble_output_nothing_provides() -> None:
    stage = EnsembleStage("a", (spec("x", "bytes", 1),), (spec("y", "uint8", 3),))
    with pytest.raises(DeclarationError, match="ensemble output 'q'"):
        wire([stage], [spec("x", "bytes", 1)], [spec("q", "uint8", 3)])
