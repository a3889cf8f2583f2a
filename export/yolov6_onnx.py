"""Export a YOLOv6 detector to ``detector.onnx`` (with its model card).

Contract (from a checkpoint): ``images`` uint8 ``[B, S, S, 3]`` RGB letterboxed to S x S (pad
with the card's ``pad_rgb``, YOLOv6's grey 114); ``/255`` and HWC->CHW run inside the graph.
Output ``raw_detections`` float32 ``[B, N, 5 + C]`` (cx, cy, w, h in detector-input pixels,
objectness, class scores), or with ``nms="onnx"|"tensorrt"`` the four NMS outputs of
:mod:`loadcheck.export.nms`.

``--from-onnx`` (:func:`import_yolov6_onnx`) takes a file written by YOLOv6's own exporter
(float ``images`` ``[B, 3, S, S]`` in [0, 1], ``outputs`` ``[B, N, 5 + C]``): it is checked,
its output renamed to ``raw_detections``, and its card says ``float32_nchw_rgb_unit`` so the
preprocess feeds float NCHW. No PyTorch is needed for that path.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.export.nms import append_efficient_nms_trt, append_onnx_nms
from loadcheck.export.onnx_utils import (
    DEFAULT_OPSET,
    ExportError,
    library_versions,
    opset_of,
    require_file,
    save_onnx,
    tensor_specs,
    torch_to_onnx,
    utc_now,
    verify_onnx,
)
from loadcheck.export.yolov6_models import (
    check_detector_img_size,
    load_yolov6_checkpoint,
    max_stride,
    parse_class_map,
)
from loadcheck.imageio import sha256_file
from loadcheck.pipeline.cards import InputContract, ModelCard, ModelKind, card_path_for

if TYPE_CHECKING:
    import onnx
    import torch

logger = logging.getLogger(__name__)

DETECTOR_FILE = "detector.onnx"
NmsMode = Literal["none", "onnx", "tensorrt"]
NMS_MODES: tuple[str, ...] = ("none", "onnx", "tensorrt")
YOLOV6_PAD_RGB = (114, 114, 114)
YOLOV6_ONNX_OUTPUT = "outputs"


@dataclass(frozen=True)
class NmsSettings:
    """In-graph NMS parameters (ignored with ``mode="none"``)."""

    mode: str = "none"
    max_detections: int = 100
    iou_threshold: float = 0.45
    score_threshold: float = 0.25

    def __post_init__(self) -> None:
        if self.mode not in NMS_MODES:
            raise ExportError(f"--nms must be one of {NMS_MODES}, got {self.mode!r}")


@dataclass(frozen=True)
class DetectorExport:
    """Paths written by :func:`export_yolov6` / :func:`import_yolov6_onnx`."""

    model: Path
    card: Path
    num_classes: int
    img_size: int


def make_detector_module(model: torch.nn.Module) -> torch.nn.Module:
    """``images`` uint8 [B, S, S, 3] -> raw ``[B, N, 5 + C]`` (deploy-form YOLOv6 inside)."""
    import torch

    class DetectorOnnx(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            x = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0
            m: Any = self.model
            return m.detect(m.neck(m.backbone(x)))

    return DetectorOnnx().eval()


def export_yolov6(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    img_size: int = 640,
    *,
    nms: NmsSettings | None = None,
    classes: str | Sequence[str] | None = None,
    fp16: bool = False,
    opset: int = DEFAULT_OPSET,
) -> DetectorExport:
    """Export a YOLOv6 training checkpoint to ``out_dir/detector.onnx`` + card.

    Only export **trusted** checkpoints: YOLOv6 checkpoints are pickles and loading one runs code.

    Args:
        checkpoint: ``best_ckpt.pt`` written by YOLOv6 training (or
            :func:`loadcheck.export.tiny.build_tiny_yolov6_checkpoint`).
        out_dir: output folder (created).
        img_size: S, square input side (multiple of the model stride, 32 or 64).
        nms: in-graph NMS settings; None = raw output.
        classes: ``--classes`` spec (see :func:`~loadcheck.export.yolov6_models.parse_class_map`).
        fp16: fp16 weights and compute (input/outputs keep their dtypes).
        opset: ONNX opset.
    """

    settings = nms or NmsSettings()
    model = load_yolov6_checkpoint(checkpoint)
    detect: Any = model.detect
    num_classes = int(detect.nc)
    class_names, class_map = parse_class_map(classes, num_classes)
    check_detector_img_size(img_size, max_stride(model))
    out = Path(out_dir)
    path = out / DETECTOR_FILE
    card_path_for(path).unlink(missing_ok=True)  # no old card may describe a new, failed file
    module = make_detector_module(model)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, img_size, img_size, 3), dtype=np.uint8)
    logger.info("exporting YOLOv6 (%d classes) at %d px to %s", num_classes, img_size, path)
    raw_path = out / f".raw-{DETECTOR_FILE}" if settings.mode != "none" else path
    n_expected = sum((img_size // int(s)) ** 2 for s in detect.stride)
    with _cleanup_on_error(raw_path, path):
        return _export_checked(
            module,
            images,
            raw_path,
            path,
            settings=settings,
            n_expected=n_expected,
            num_classes=num_classes,
            img_size=img_size,
            source=Path(checkpoint),
            class_names=class_names,
            class_map=class_map,
            fp16=fp16,
            opset=opset,
        )


def _export_checked(
    module: torch.nn.Module,
    images: np.ndarray,
    raw_path: Path,
    path: Path,
    *,
    settings: NmsSettings,
    n_expected: int,
    num_classes: int,
    img_size: int,
    source: Path,
    class_names: tuple[str, ...],
    class_map: dict[str, int],
    fp16: bool,
    opset: int,
) -> DetectorExport:
    import torch

    onnx_model, _ = torch_to_onnx(
        module,
        (torch.from_numpy(images),),
        raw_path,
        [tn.DETECTOR_INPUT],
        [tn.DETECTOR_RAW_OUTPUT],
        {tn.DETECTOR_INPUT: {0: "B"}, tn.DETECTOR_RAW_OUTPUT: {0: "B"}},
        fp16=fp16,
        opset=opset,
        output_shapes={tn.DETECTOR_RAW_OUTPUT: ["B", n_expected, 5 + num_classes]},
    )
    raw = verify_onnx(raw_path, {tn.DETECTOR_INPUT: images}, [tn.DETECTOR_RAW_OUTPUT])
    if raw[tn.DETECTOR_RAW_OUTPUT].shape != (2, n_expected, 5 + num_classes):
        raise ExportError(
            f"detector smoke run: expected raw output [2, {n_expected}, {5 + num_classes}], got "
            f"{list(raw[tn.DETECTOR_RAW_OUTPUT].shape)}"
        )
    return _finish(
        onnx_model,
        path,
        raw_path,
        {tn.DETECTOR_INPUT: images},
        settings=settings,
        img_size=img_size,
        model_type="yolov6",
        source=source,
        class_names=class_names,
        class_map=class_map,
        contract=InputContract.UINT8_NHWC_RGB,
        input_dims=("B", "S", "S", "3"),
        dtype="fp16" if fp16 else "fp32",
    )


@contextlib.contextmanager
def _cleanup_on_error(raw_path: Path, path: Path) -> Iterator[None]:
    """Remove the temporary raw graph (when it is not the final file) if the export fails."""
    try:
        yield
    except BaseException:
        if raw_path != path:
            raw_path.unlink(missing_ok=True)
            raw_path.with_name(raw_path.name + ".data").unlink(missing_ok=True)
        raise


def import_yolov6_onnx(
    onnx_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    nms: NmsSettings | None = None,
    classes: str | Sequence[str] | None = None,
) -> DetectorExport:
    """Adopt an ONNX file written by YOLOv6's own exporter (``deploy/ONNX/export_onnx.py``
    without ``--end2end``) as ``out_dir/detector.onnx`` + card.

    Checks: one input, float ``[B, 3, S, S]``; one output ``[B, N, 5 + C]``. The output is
    renamed ``raw_detections`` (the input is renamed ``images`` if needed); NMS is appended when
    asked. The card's ``input_contract`` is ``float32_nchw_rgb_unit``.
    """
    import onnx

    settings = nms or NmsSettings()
    source = require_file(onnx_file, "YOLOv6 ONNX file")
    try:
        model = onnx.load(str(source))
        onnx.checker.check_model(model)
    except Exception as exc:  # DecodeError, ValidationError...
        raise ExportError(f"cannot read ONNX file {source}: {exc}") from exc
    img_size, num_classes, in_dtype = _check_yolov6_onnx(model, source.name)
    class_names, class_map = parse_class_map(classes, num_classes)
    _rename(model, model.graph.input[0].name, tn.DETECTOR_INPUT)
    _rename(model, model.graph.output[0].name, tn.DETECTOR_RAW_OUTPUT)
    out = Path(out_dir)
    path = out / DETECTOR_FILE
    card_path_for(path).unlink(missing_ok=True)
    raw_path = out / f".raw-{DETECTOR_FILE}" if settings.mode != "none" else path
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    b = batch.dim_value if batch.HasField("dim_value") else 2
    images: np.ndarray = np.random.default_rng(0).random((b, 3, img_size, img_size))
    images = images.astype(in_dtype)
    with _cleanup_on_error(raw_path, path):
        save_onnx(model, raw_path)
        verify_onnx(raw_path, {tn.DETECTOR_INPUT: images}, [tn.DETECTOR_RAW_OUTPUT])
        return _finish(
            model,
            path,
            raw_path,
            {tn.DETECTOR_INPUT: images},
            settings=settings,
            img_size=img_size,
            model_type="yolov6-onnx",
            source=source,
            class_names=class_names,
            class_map=class_map,
            contract=InputContract.FLOAT32_NCHW_RGB_UNIT,
            input_dims=("B", "3", "S", "S"),
            dtype="fp16" if in_dtype == np.float16 else "fp32",
        )


def _finish(
    model: onnx.ModelProto,
    path: Path,
    raw_path: Path,
    feeds: dict[str, np.ndarray],
    *,
    settings: NmsSettings,
    img_size: int,
    model_type: str,
    source: Path,
    class_names: tuple[str, ...],
    class_map: dict[str, int],
    contract: InputContract,
    input_dims: tuple[str, ...],
    dtype: str,
) -> DetectorExport:
    """Append NMS when asked, save, verify, write the card."""
    nms_kwargs = {
        "max_detections": settings.max_detections,
        "iou_threshold": settings.iou_threshold,
        "score_threshold": settings.score_threshold,
    }
    if settings.mode == "onnx":
        model = append_onnx_nms(model, tn.DETECTOR_RAW_OUTPUT, **nms_kwargs)  # type: ignore[arg-type]
    elif settings.mode == "tensorrt":
        model = append_efficient_nms_trt(model, tn.DETECTOR_RAW_OUTPUT, **nms_kwargs)  # type: ignore[arg-type]
    if raw_path != path:
        raw_path.unlink(missing_ok=True)
        raw_path.with_name(raw_path.name + ".data").unlink(missing_ok=True)
        external = save_onnx(model, path)
        # ONNX Runtime cannot run the TensorRT plugin: graph check only (the raw graph ran above)
        out = verify_onnx(path, feeds, _NMS_OUTPUT_NAMES, run=settings.mode == "onnx")
        if out and out[tn.DETECTOR_BOXES].shape[1:] != (settings.max_detections, 4):
            raise ExportError(f"NMS smoke run: det_boxes has shape {out[tn.DETECTOR_BOXES].shape}")
    else:
        external = path.with_name(path.name + ".data").exists()
    m = settings.max_detections
    dims = {
        tn.DETECTOR_INPUT: input_dims,
        tn.DETECTOR_RAW_OUTPUT: ("B", "N", "5+C"),
        tn.DETECTOR_NUM_DETS: ("B", "1"),
        tn.DETECTOR_BOXES: ("B", "M", "4"),
        tn.DETECTOR_SCORES: ("B", "M"),
        tn.DETECTOR_CLASSES: ("B", "M"),
    }
    with_nms = settings.mode != "none"
    card = ModelCard(
        kind=ModelKind.DETECTOR.value,
        model_type=model_type,
        file=path.name,
        format="onnx",
        image_size=img_size,
        opset=opset_of(model),
        dtype=dtype,
        inputs=tensor_specs(model, dims, outputs=False),
        outputs=tensor_specs(model, dims, outputs=True),
        input_contract=contract.value,
        source_checkpoint=source.name,
        source_sha256=sha256_file(source),
        library_versions=library_versions(),
        created_utc=utc_now(),
        class_names=class_names,
        class_map=class_map,
        nms=settings.mode,
        nms_iou_threshold=settings.iou_threshold if with_nms else 0.0,
        nms_score_threshold=settings.score_threshold if with_nms else 0.0,
        max_detections=m if with_nms else 0,
        pad_rgb=YOLOV6_PAD_RGB,
        pixel_mean=(0.0, 0.0, 0.0),
        pixel_std=(255.0, 255.0, 255.0),
        external_data=external,
        extra={"box_format": "cxcywh" if not with_nms else "xyxy"},
    )
    card_path = card.save(card_path_for(path))
    return DetectorExport(path, card_path, len(class_names), img_size)


_NMS_OUTPUT_NAMES = [
    tn.DETECTOR_NUM_DETS,
    tn.DETECTOR_BOXES,
    tn.DETECTOR_SCORES,
    tn.DETECTOR_CLASSES,
]


def _check_yolov6_onnx(model: onnx.ModelProto, name: str) -> tuple[int, int, type]:
    """(S, C, numpy input dtype) of a YOLOv6-exported raw model, or :class:`ExportError`."""
    from onnx import TensorProto

    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    expected = (
        "one float input [B, 3, S, S] and one output [B, N, 5 + C] "
        "(YOLOv6's export without --end2end)"
    )
    if len(inputs) != 1 or len(model.graph.output) != 1:
        outs = [o.name for o in model.graph.output]
        hint = " (it looks like an --end2end export with NMS)" if len(outs) == 4 else ""
        raise ExportError(
            f"{name}: has inputs {[i.name for i in inputs]} and outputs {outs}{hint}; "
            f"expected {expected}"
        )
    itype = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in itype.shape.dim]
    dtypes = {TensorProto.FLOAT: np.float32, TensorProto.FLOAT16: np.float16}
    if (
        itype.elem_type not in dtypes
        or len(dims) != 4
        or dims[1] != 3
        or dims[2] != dims[3]
        or dims[2] <= 0
    ):
        raise ExportError(f"{name}: input {inputs[0].name!r} has shape {dims}; expected {expected}")
    otype = model.graph.output[0].type.tensor_type
    odims = [d.dim_value if d.HasField("dim_value") else -1 for d in otype.shape.dim]
    if len(odims) != 3 or odims[2] < 6:
        raise ExportError(f"{name}: output has shape {odims}; expected {expected}")
    return dims[2], odims[2] - 5, dtypes[itype.elem_type]


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    """Rename tensor ``old`` to ``new`` everywhere in the top-level graph."""
    if old == new:
        return
    graph = model.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name == old:
            value.name = new
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
