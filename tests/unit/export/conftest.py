"""Shared tiny models for the export tests: built and exported once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@dataclass(frozen=True)
class TinyExports:
    root: Path
    sam_checkpoint: Path
    yolov6_checkpoint: Path
    cards: dict[str, Path]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyExports:
    from loadcheck.export.tiny import export_tiny_models

    root = tmp_path_factory.mktemp("tiny")
    cards = export_tiny_models(root)
    return TinyExports(
        root=root,
        sam_checkpoint=root / "checkpoints" / "sam_vit_tiny.pth",
        yolov6_checkpoint=root / "checkpoints" / "yolov6_tiny.pt",
        cards=cards,
    )


@pytest.fixture(scope="session")
def tiny_sam(tiny: TinyExports):  # type: ignore[no-untyped-def]
    """The PyTorch SAM the tiny export was made from."""
    from loadcheck.export.sam_models import load_sam

    sam, _ = load_sam(tiny.sam_checkpoint)
    return sam


@pytest.fixture(scope="session")
def tiny_yolov6(tiny: TinyExports):  # type: ignore[no-untyped-def]
    """The deploy-form PyTorch YOLOv6 the tiny detector was exported from."""
    from loadcheck.export.yolov6_models import load_yolov6_checkpoint

    return load_yolov6_checkpoint(tiny.yolov6_checkpoint)


@pytest.fixture(scope="session")
def detector_with_onnx_nms(tiny: TinyExports, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny detector exported with ``--nms onnx`` (low score threshold: many candidates)."""
    from loadcheck.export.yolov6_onnx import NmsSettings, export_yolov6

    out = tmp_path_factory.mktemp("nms_onnx")
    settings = NmsSettings("onnx", max_detections=20, iou_threshold=0.5, score_threshold=0.2)
    return export_yolov6(tiny.yolov6_checkpoint, out, 320, nms=settings).model
