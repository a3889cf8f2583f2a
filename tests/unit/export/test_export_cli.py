"""``loadcheck export ...`` on tiny checkpoints: outputs, exit codes and messages."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.pipeline.cards import ModelCard

pytestmark = pytest.mark.torch  # exports the tiny PyTorch models

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"})


def test_export_sam_writes_both_models_and_cards(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app,
        [
            "export",
            "sam",
            "--checkpoint",
            str(tiny.sam_checkpoint),
            "--model-type",
            "vit_tiny",
            "--img-size",
            "128",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert ModelCard.for_model(tmp_path / "sam_encoder.onnx").image_size == 128
    assert ModelCard.for_model(tmp_path / "sam_decoder.onnx").kind == "sam_decoder"


def test_export_sam_with_wrong_model_type_fails_naming_both(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app,
        [
            "export",
            "sam",
            "--checkpoint",
            str(tiny.sam_checkpoint),
            "--model-type",
            "vit_l",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "is vit_tiny, not vit_l" in result.output
    assert not (tmp_path / "sam_encoder.onnx").exists()


def test_export_sam_refuses_an_unknown_model_type(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app,
        [
            "export",
            "sam",
            "--checkpoint",
            str(tiny.sam_checkpoint),
            "--model-type",
            "vit_x",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "vit_x" in result.output


def test_export_sam_refuses_a_missing_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app, ["export", "sam", "--checkpoint", str(tmp_path / "x.pth"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_export_yolov6_with_onnx_nms_and_class_map(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app,
        [
            "export",
            "yolov6",
            "--checkpoint",
            str(tiny.yolov6_checkpoint),
            "--img-size",
            "256",
            "--nms",
            "onnx",
            "--classes",
            "truck=bed,mine=load",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    card = ModelCard.for_model(tmp_path / "detector.onnx")
    assert card.nms == "onnx" and card.image_size == 256
    assert card.class_names == ("truck", "mine")


def test_export_yolov6_needs_exactly_one_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["export", "yolov6", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "exactly one of --checkpoint and --from-onnx" in result.output


def test_export_yolov6_with_bad_class_map_fails(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app,
        [
            "export",
            "yolov6",
            "--checkpoint",
            str(tiny.yolov6_checkpoint),
            "--classes",
            "a,b",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "maps no detector class" in result.output


def test_export_tensorrt_without_tensorrt_prints_trtexec(tiny, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    result = runner.invoke(
        app,
        [
            "export",
            "tensorrt",
            "--onnx",
            str(tiny.root / "sam_encoder.onnx"),
            "--out",
            str(tmp_path / "enc.plan"),
            "--max-batch",
            "4",
            "--fp16",
        ],
    )
    assert result.exit_code == 1
    assert "trtexec --onnx=" in result.output
    assert "--maxShapes=image:4x256x256x3" in result.output


@pytest.mark.parametrize("command", ["sam", "yolov6", "tensorrt", "tiny"])
def test_every_export_command_has_help(command: str) -> None:
    result = runner.invoke(app, ["export", command, "--help"])
    assert result.exit_code == 0
    assert "--out" in result.output
