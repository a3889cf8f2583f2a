"""TensorRT plan building: optimisation profiles from cards, and the missing-TensorRT error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loadcheck import tensor_names as tn
from loadcheck.export.card import ModelCard
from loadcheck.export.onnx_utils import ExportError
from loadcheck.export.trt_plan import (
    InputProfile,
    ProfileSettings,
    TensorRTUnavailableError,
    build_plan,
    input_profiles,
    trtexec_command,
)


def test_encoder_profile_varies_only_the_batch(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["sam_encoder"])
    (profile,) = input_profiles(card, ProfileSettings(min_batch=1, opt_batch=2, max_batch=4))
    assert profile == InputProfile(
        tn.SAM_ENCODER_INPUT, (1, 256, 256, 3), (2, 256, 256, 3), (4, 256, 256, 3)
    )


def test_decoder_profile_varies_only_the_boxes(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["sam_decoder"])
    embeddings, boxes, coords, labels = input_profiles(
        card, ProfileSettings(max_batch=8, max_boxes=32)
    )
    assert embeddings.min_shape == embeddings.max_shape == (1, 256, 16, 16)
    assert boxes == InputProfile(tn.SAM_DECODER_BOXES, (1, 4), (16, 4), (32, 4))
    assert coords == InputProfile(tn.SAM_DECODER_POINT_COORDS, (1, 1, 2), (16, 1, 2), (32, 1, 2))
    assert labels == InputProfile(tn.SAM_DECODER_POINT_LABELS, (1, 1), (16, 1), (32, 1))


def test_detector_profile_uses_the_batch_range(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["detector"])
    (profile,) = input_profiles(card, ProfileSettings(min_batch=2, opt_batch=4, max_batch=16))
    assert profile.min_shape == (2, 320, 320, 3)
    assert profile.opt_shape == (4, 320, 320, 3)
    assert profile.max_shape == (16, 320, 320, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_batch": 0},
        {"min_batch": 4, "opt_batch": 2},
        {"opt_batch": 9, "max_batch": 8},
        {"max_boxes": 0},
        {"max_boxes": 4, "opt_boxes": 5},
    ],
)
def test_inconsistent_profile_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ExportError):
        ProfileSettings(**kwargs)


def test_unknown_dynamic_axis_cannot_be_profiled(tiny) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    card = ModelCard.load(tiny.cards["detector"])
    spec = dataclasses.replace(card.inputs[0], dim_names=("X", "S", "S", "3"))
    with pytest.raises(ExportError, match="dynamic axis 'X'"):
        input_profiles(dataclasses.replace(card, inputs=(spec,)), ProfileSettings())


def test_missing_tensorrt_error_prints_the_trtexec_command(tiny, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    onnx_path = tiny.root / "sam_decoder.onnx"
    with pytest.raises(TensorRTUnavailableError) as info:
        build_plan(onnx_path, tmp_path / "dec.plan", ProfileSettings(max_boxes=64), fp16=True)
    message = str(info.value)
    assert "not installed" in message
    assert f"--onnx={onnx_path}" in message
    assert "--minShapes=image_embeddings:1x256x16x16,boxes_xyxy:1x4" in message
    assert "--maxShapes=image_embeddings:1x256x16x16,boxes_xyxy:64x4" in message
    assert message.rstrip().endswith("--fp16")
    assert not (tmp_path / "dec.plan").exists()


def test_trtexec_command_omits_shapes_for_a_static_model(tmp_path: Path) -> None:
    profile = InputProfile("x", (1, 3), (1, 3), (1, 3))
    command = trtexec_command(tmp_path / "m.onnx", tmp_path / "m.plan", [profile], fp16=False)
    assert "--minShapes" not in command and "--fp16" not in command
    assert command.startswith("/usr/src/tensorrt/bin/trtexec --onnx=")


def test_plan_needs_the_model_card_of_the_onnx_file(tmp_path: Path) -> None:
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"")
    with pytest.raises(ExportError, match="model card not found"):
        build_plan(lone, tmp_path / "lone.plan")
