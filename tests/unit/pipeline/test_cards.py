"""ModelCard: JSON round trip, validation and the card path beside a model file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from loadcheck.pipeline.cards import (
    CardError,
    InputContract,
    ModelCard,
    ModelKind,
    TensorSpec,
    card_path_for,
)
from loadcheck.pipeline.tensors import TensorSpecError


def _card(**changes: object) -> ModelCard:
    card = ModelCard(
        kind=ModelKind.DETECTOR.value,
        model_type="yolov6",
        file="detector.onnx",
        format="onnx",
        image_size=640,
        opset=17,
        dtype="fp32",
        inputs=(TensorSpec("images", "uint8", (-1, 640, 640, 3), ("B", "S", "S", "3")),),
        outputs=(TensorSpec("raw_detections", "float32", (-1, 8400, 7), ("B", "N", "5+C")),),
        input_contract=InputContract.UINT8_NHWC_RGB.value,
        source_checkpoint="best_ckpt.pt",
        source_sha256="ab" * 32,
        library_versions={"torch": "2.14.1"},
        created_utc="2026-11-27T12:00:00+00:00",
        class_names=("truck", "mine"),
        class_map={"bed": 0, "load": 1},
        pad_rgb=(114, 114, 114),
        extra={"box_format": "cxcywh"},
    )
    return dataclasses.replace(card, **changes)  # type: ignore[arg-type]


def test_card_survives_a_save_and_load_round_trip(tmp_path: Path) -> None:
    card = _card()
    path = card.save(tmp_path / "detector.onnx.card.json")
    assert ModelCard.load(path) == card
    assert json.loads(path.read_text())["inputs"][0]["shape"] == [-1, 640, 640, 3]


def test_card_path_sits_beside_the_model_file(tmp_path: Path) -> None:
    assert card_path_for(tmp_path / "sam_encoder.onnx") == tmp_path / "sam_encoder.onnx.card.json"
    _card().save(card_path_for(tmp_path / "detector.onnx"))
    assert ModelCard.for_model(tmp_path / "detector.onnx").file == "detector.onnx"


def test_dynamic_axes_name_the_minus_one_dims() -> None:
    spec = TensorSpec("boxes_xyxy", "float32", (-1, 4), ("K", "4"))
    assert spec.dynamic_axes == {0: "K"}


def test_lookup_of_an_unknown_tensor_names_the_known_ones() -> None:
    with pytest.raises(CardError, match=r"no input tensor 'image'; the card has \['images'\]"):
        _card().input("image")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "classifier"}, "kind: expected one of"),
        ({"dtype": "int4"}, "dtype: expected one of"),
        ({"nms": "soft"}, "nms: expected"),
        ({"class_map": {"bed": 5}}, r"class_map\['bed'\] = 5 is not a class id"),
        ({"image_size": 0}, "image_size: expected a positive int"),
    ],
)
def test_invalid_cards_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CardError, match=message):
        _card(**changes)


def test_tensor_spec_needs_one_name_per_dim() -> None:
    with pytest.raises(TensorSpecError, match="same length"):
        TensorSpec("images", "uint8", (-1, 640, 640, 3), ("B", "S"))


def test_loading_a_missing_or_broken_card_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="model card not found"):
        ModelCard.load(tmp_path / "none.card.json")
    broken = tmp_path / "broken.card.json"
    broken.write_text("{not json")
    with pytest.raises(CardError, match="not valid JSON"):
        ModelCard.load(broken)
    partial = tmp_path / "partial.card.json"
    data = _card().to_dict()
    del data["opset"]
    partial.write_text(json.dumps(data))
    with pytest.raises(CardError, match="lacks the field 'opset'"):
        ModelCard.load(partial)


def test_newer_card_format_is_refused(tmp_path: Path) -> None:
    data = _card().to_dict() | {"format_version": 99}
    path = tmp_path / "new.card.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CardError, match="format_version 99 is newer"):
        ModelCard.load(path)
