"""Export SAM and YOLOv6 to ONNX (and TensorRT plans), each file with a model card.

Light to import (no torch): the exporters import PyTorch, ONNX and ONNX Runtime when called.

* :func:`loadcheck.export.sam_onnx.export_sam`
* :func:`loadcheck.export.yolov6_onnx.export_yolov6`,
  :func:`loadcheck.export.yolov6_onnx.import_yolov6_onnx`
* :func:`loadcheck.export.trt_plan.build_plan`
* :func:`loadcheck.export.tiny.export_tiny_models` (tiny random models for tests and demos)
* :class:`ModelCard`: the JSON card beside every model file (``<file>.card.json``).
"""

from loadcheck.export.onnx_utils import ExportError
from loadcheck.pipeline.cards import (
    CardError,
    InputContract,
    ModelCard,
    ModelKind,
    TensorSpec,
    card_path_for,
)

__all__ = [
    "CardError",
    "ExportError",
    "InputContract",
    "ModelCard",
    "ModelKind",
    "TensorSpec",
    "card_path_for",
]
