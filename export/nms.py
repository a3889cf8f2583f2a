"""Non-maximum suppression appended to a detector graph.

Both variants read the raw YOLOv6 output ``[B, N, 5 + C]`` (cx, cy, w, h, objectness, class
scores), score every (box, class) pair as ``objectness * class score`` and produce the fixed
outputs of :mod:`loadcheck.tensor_names`:

* ``num_dets`` int32 ``[B, 1]``: detections kept per image (at most M);
* ``det_boxes`` float32 ``[B, M, 4]``: xyxy in detector-input pixels;
* ``det_scores`` float32 ``[B, M]``;
* ``det_classes`` int32 ``[B, M]``.

Entries after ``num_dets`` are padding (boxes and scores 0 with ``--nms onnx``); read only the
first ``num_dets``. NMS is per class (a bed and a load box may overlap), as with
``torchvision.ops.batched_nms``; at most M detections per image, highest scores first.

* :func:`append_onnx_nms`: standard ONNX ``NonMaxSuppression`` plus a gather/TopK/pad tail, runs
  on any runtime.
* :func:`append_efficient_nms_trt`: one ``EfficientNMS_TRT`` node (TensorRT plugin); ONNX Runtime
  cannot run it, TensorRT builds it into the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadcheck import tensor_names as tn
from loadcheck.export.onnx_utils import ExportError

if TYPE_CHECKING:
    import onnx

NMS_OUTPUTS: tuple[str, ...] = (
    tn.DETECTOR_NUM_DETS,
    tn.DETECTOR_BOXES,
    tn.DETECTOR_SCORES,
    tn.DETECTOR_CLASSES,
)
TRT_DOMAIN = "TRT"


def _split_raw(
    model: onnx.ModelProto, raw_name: str, prefix: str
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str, str]:
    """Nodes computing xyxy boxes ``[B, N, 4]`` and scores ``[B, N, C]`` from the raw output."""
    from onnx import TensorProto, helper

    if raw_name not in {o.name for o in model.graph.output}:
        raise ExportError(f"the graph has no output {raw_name!r} to append NMS to")

    def name(suffix: str) -> str:
        return f"{prefix}/{suffix}"

    def const(suffix: str, values: list[int], dtype: int = TensorProto.INT64) -> onnx.TensorProto:
        return helper.make_tensor(name(suffix), dtype, [len(values)], values)

    inits = [
        const("s0", [0]),
        const("s2", [2]),
        const("s4", [4]),
        const("s5", [5]),
        const("big", [2**62]),
        const("axis2", [2]),
        helper.make_tensor(name("half"), TensorProto.FLOAT, [], [0.5]),
    ]
    nodes = [
        helper.make_node(
            "Slice", [raw_name, name("s0"), name("s2"), name("axis2")], [name("cxcy")]
        ),
        helper.make_node("Slice", [raw_name, name("s2"), name("s4"), name("axis2")], [name("wh")]),
        helper.make_node("Slice", [raw_name, name("s4"), name("s5"), name("axis2")], [name("obj")]),
        helper.make_node(
            "Slice", [raw_name, name("s5"), name("big"), name("axis2")], [name("cls")]
        ),
        helper.make_node("Mul", [name("wh"), name("half")], [name("half_wh")]),
        helper.make_node("Sub", [name("cxcy"), name("half_wh")], [name("xy1")]),
        helper.make_node("Add", [name("cxcy"), name("half_wh")], [name("xy2")]),
        helper.make_node("Concat", [name("xy1"), name("xy2")], [name("boxes")], axis=2),
        helper.make_node("Mul", [name("cls"), name("obj")], [name("scores")]),
    ]
    return nodes, inits, name("boxes"), name("scores")


def _replace_outputs(
    model: onnx.ModelProto,
    raw_name: str,
    batch_dim: onnx.TensorShapeProto.Dimension,
    max_detections: int,
) -> None:
    from onnx import TensorProto, helper

    batch: int | str = batch_dim.dim_value if batch_dim.HasField("dim_value") else "B"
    outputs = [
        helper.make_tensor_value_info(tn.DETECTOR_NUM_DETS, TensorProto.INT32, [batch, 1]),
        helper.make_tensor_value_info(
            tn.DETECTOR_BOXES, TensorProto.FLOAT, [batch, max_detections, 4]
        ),
        helper.make_tensor_value_info(
            tn.DETECTOR_SCORES, TensorProto.FLOAT, [batch, max_detections]
        ),
        helper.make_tensor_value_info(
            tn.DETECTOR_CLASSES, TensorProto.INT32, [batch, max_detections]
        ),
    ]
    kept = [o for o in model.graph.output if o.name != raw_name]
    del model.graph.output[:]
    model.graph.output.extend([*kept, *outputs])


def _raw_batch_dim(model: onnx.ModelProto, raw_name: str) -> onnx.TensorShapeProto.Dimension:
    for out in model.graph.output:
        if out.name == raw_name:
            return out.type.tensor_type.shape.dim[0]
    raise ExportError(f"the graph has no output {raw_name!r}")


def _check_params(max_detections: int, iou_threshold: float, score_threshold: float) -> None:
    if max_detections < 1:
        raise ExportError(f"max detections must be >= 1, got {max_detections}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ExportError(f"NMS IoU threshold must be in (0, 1], got {iou_threshold}")
    if not 0.0 <= score_threshold < 1.0:
        raise ExportError(f"NMS score threshold must be in [0, 1), got {score_threshold}")


def append_onnx_nms(
    model: onnx.ModelProto,
    raw_name: str,
    *,
    max_detections: int = 100,
    iou_threshold: float = 0.45,
    score_threshold: float = 0.25,
) -> onnx.ModelProto:
    """Replace output ``raw_name`` of ``model`` (in place, also returned) by the four NMS outputs,
    computed with ONNX ``NonMaxSuppression`` (opset >= 11)."""
    from onnx import TensorProto, helper

    _check_params(max_detections, iou_threshold, score_threshold)
    batch_dim = _raw_batch_dim(model, raw_name)
    p = "nms"

    def n(suffix: str) -> str:
        return f"{p}/{suffix}"

    nodes, inits, boxes, scores = _split_raw(model, raw_name, p)
    inits += [
        helper.make_tensor(n("max_per_class"), TensorProto.INT64, [1], [max_detections]),
        helper.make_tensor(n("iou"), TensorProto.FLOAT, [1], [iou_threshold]),
        helper.make_tensor(n("score_thr"), TensorProto.FLOAT, [1], [score_threshold]),
        helper.make_tensor(n("m"), TensorProto.INT64, [1], [max_detections]),
        helper.make_tensor(n("i0"), TensorProto.INT64, [], [0]),
        helper.make_tensor(n("i1"), TensorProto.INT64, [], [1]),
        helper.make_tensor(n("i2"), TensorProto.INT64, [], [2]),
        helper.make_tensor(n("ax0"), TensorProto.INT64, [1], [0]),
        helper.make_tensor(n("ax1"), TensorProto.INT64, [1], [1]),
        helper.make_tensor(n("ax2"), TensorProto.INT64, [1], [2]),
        helper.make_tensor(n("minus1"), TensorProto.FLOAT, [], [-1.0]),
        helper.make_tensor(n("minus_half"), TensorProto.FLOAT, [], [-0.5]),
        helper.make_tensor(n("zero_f"), TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor(n("minus1_i"), TensorProto.INT32, [], [-1]),
        helper.make_tensor(n("zeros2"), TensorProto.INT64, [3], [0, 0, 0]),
        helper.make_tensor(n("zeros1"), TensorProto.INT64, [1], [0]),
    ]
    nodes += [
        # [B, C, N] scores, NMS per class -> selected [X, 3] (batch, class, box)
        helper.make_node("Transpose", [scores], [n("scores_bcn")], perm=[0, 2, 1]),
        helper.make_node(
            "NonMaxSuppression",
            [boxes, n("scores_bcn"), n("max_per_class"), n("iou"), n("score_thr")],
            [n("selected")],
            center_point_box=0,
        ),
        helper.make_node("Gather", [n("selected"), n("i0")], [n("sel_b")], axis=1),
        helper.make_node("Gather", [n("selected"), n("i1")], [n("sel_c")], axis=1),
        helper.make_node("Gather", [n("selected"), n("i2")], [n("sel_n")], axis=1),
        helper.make_node("GatherND", [n("scores_bcn"), n("selected")], [n("sel_scores")]),
        helper.make_node("Unsqueeze", [n("sel_b"), n("ax1")], [n("sel_b1")]),
        helper.make_node("Unsqueeze", [n("sel_n"), n("ax1")], [n("sel_n1")]),
        helper.make_node("Concat", [n("sel_b1"), n("sel_n1")], [n("sel_bn")], axis=1),
        helper.make_node("GatherND", [boxes, n("sel_bn")], [n("sel_boxes")]),
        # per image: a [B, X] score matrix (-1 where the selection is another image's), TopK
        helper.make_node("Shape", [raw_name], [n("raw_shape")]),
        helper.make_node("Gather", [n("raw_shape"), n("i0")], [n("batch")]),
        helper.make_node("Range", [n("i0"), n("batch"), n("i1")], [n("batch_ids")]),
        helper.make_node("Unsqueeze", [n("batch_ids"), n("ax1")], [n("batch_col")]),
        helper.make_node("Unsqueeze", [n("sel_b"), n("ax0")], [n("sel_b_row")]),
        helper.make_node("Equal", [n("batch_col"), n("sel_b_row")], [n("same_image")]),
        helper.make_node("Unsqueeze", [n("sel_scores"), n("ax0")], [n("score_row")]),
        helper.make_node("Where", [n("same_image"), n("score_row"), n("minus1")], [n("keys")]),
        helper.make_node("Shape", [n("selected")], [n("sel_shape")]),
        helper.make_node("Slice", [n("sel_shape"), n("zeros1"), n("ax1")], [n("num_sel")]),
        helper.make_node("Min", [n("num_sel"), n("m")], [n("k")]),
        helper.make_node("TopK", [n("keys"), n("k")], [n("top_v"), n("top_i")], axis=1),
        helper.make_node("Greater", [n("top_v"), n("minus_half")], [n("valid")]),
        helper.make_node("Cast", [n("valid")], [n("valid_i")], to=TensorProto.INT32),
        helper.make_node("ReduceSum", [n("valid_i"), n("ax1")], [tn.DETECTOR_NUM_DETS], keepdims=1),
        helper.make_node("Where", [n("valid"), n("top_v"), n("zero_f")], [n("scores_k")]),
        helper.make_node("Gather", [n("sel_boxes"), n("top_i")], [n("boxes_g")], axis=0),
        helper.make_node("Unsqueeze", [n("valid"), n("ax2")], [n("valid3")]),
        helper.make_node("Where", [n("valid3"), n("boxes_g"), n("zero_f")], [n("boxes_k")]),
        helper.make_node("Gather", [n("sel_c"), n("top_i")], [n("cls_g")], axis=0),
        helper.make_node("Cast", [n("cls_g")], [n("cls_gi")], to=TensorProto.INT32),
        helper.make_node("Where", [n("valid"), n("cls_gi"), n("minus1_i")], [n("cls_k")]),
        # pad the k kept columns to M
        helper.make_node("Sub", [n("m"), n("k")], [n("pad")]),
        helper.make_node(
            "Concat", [n("zeros1"), n("zeros1"), n("zeros1"), n("pad")], [n("pads2")], axis=0
        ),
        helper.make_node(
            "Concat", [n("zeros2"), n("zeros1"), n("pad"), n("zeros1")], [n("pads3")], axis=0
        ),
        helper.make_node("Pad", [n("scores_k"), n("pads2"), n("zero_f")], [tn.DETECTOR_SCORES]),
        helper.make_node("Pad", [n("boxes_k"), n("pads3"), n("zero_f")], [tn.DETECTOR_BOXES]),
        helper.make_node("Pad", [n("cls_k"), n("pads2"), n("minus1_i")], [tn.DETECTOR_CLASSES]),
    ]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(inits)
    _replace_outputs(model, raw_name, batch_dim, max_detections)
    return model


def append_efficient_nms_trt(
    model: onnx.ModelProto,
    raw_name: str,
    *,
    max_detections: int = 100,
    iou_threshold: float = 0.45,
    score_threshold: float = 0.25,
) -> onnx.ModelProto:
    """Replace output ``raw_name`` (in place, also returned) by one ``EfficientNMS_TRT`` plugin
    node (domain ``TRT``, plugin version 1, xyxy boxes, per-class NMS) with the four outputs."""
    from onnx import helper

    _check_params(max_detections, iou_threshold, score_threshold)
    batch_dim = _raw_batch_dim(model, raw_name)
    nodes, inits, boxes, scores = _split_raw(model, raw_name, "trt_nms")
    nodes.append(
        helper.make_node(
            "EfficientNMS_TRT",
            [boxes, scores],
            list(NMS_OUTPUTS),
            name="EfficientNMS_TRT",
            domain=TRT_DOMAIN,
            background_class=-1,
            box_coding=0,
            iou_threshold=float(iou_threshold),
            max_output_boxes=int(max_detections),
            plugin_version="1",
            score_activation=0,
            score_threshold=float(score_threshold),
            class_agnostic=0,
        )
    )
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(inits)
    if TRT_DOMAIN not in {o.domain for o in model.opset_import}:
        model.opset_import.append(helper.make_opsetid(TRT_DOMAIN, 1))
    _replace_outputs(model, raw_name, batch_dim, max_detections)
    return model
