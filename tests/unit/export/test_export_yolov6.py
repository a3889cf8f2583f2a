"""YOLOv6 export: ONNX Runtime against PyTorch, in-graph NMS, --from-onnx, class maps, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from loadcheck import tensor_names as tn
from loadcheck.export.nms import TRT_DOMAIN
from loadcheck.export.onnx_utils import ExportError
from loadcheck.export.tiny import build_tiny_sam_checkpoint
from loadcheck.export.yolov6_models import parse_class_map
from loadcheck.export.yolov6_onnx import NmsSettings, export_yolov6, import_yolov6_onnx
from loadcheck.pipeline.cards import ModelCard

pytestmark = pytest.mark.torch  # exports PyTorch models
TOL = 1e-3


def _session(path: Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _images(batch: int, seed: int, size: int = 320) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)


def _torch_raw(model, images: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        return model.detect(model.neck(model.backbone(x))).numpy()


def _reference_nms(raw: np.ndarray, iou: float, score: float, max_det: int):  # type: ignore[no-untyped-def]
    """Per image: per-class NMS (torchvision.batched_nms) on obj * cls scores, top max_det."""
    from torchvision.ops import batched_nms

    results = []
    for det in torch.from_numpy(raw):
        xyxy = torch.cat([det[:, :2] - det[:, 2:4] / 2, det[:, :2] + det[:, 2:4] / 2], 1)
        scores = det[:, 5:] * det[:, 4:5]
        box_idx, cls_idx = torch.nonzero(scores > score, as_tuple=True)
        cand_scores = scores[box_idx, cls_idx]
        keep = batched_nms(xyxy[box_idx], cand_scores, cls_idx, iou)[:max_det]
        results.append(
            (xyxy[box_idx][keep].numpy(), cand_scores[keep].numpy(), cls_idx[keep].numpy())
        )
    return results


def test_detector_onnx_matches_pytorch_for_a_batch_of_two(tiny, tiny_yolov6) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["detector"])
    images = _images(2, 1)
    (got,) = _session(tiny.root / card.file).run(None, {tn.DETECTOR_INPUT: images})
    want = _torch_raw(tiny_yolov6, images)
    assert got.shape == (2, 2100, 7)
    assert np.abs(got - want).max() <= TOL
    assert np.ptp(got[..., 5]) > 0.1  # random weights are not degenerate


def test_deploy_form_matches_training_form_of_the_checkpoint(tiny, tiny_yolov6) -> None:  # type: ignore[no-untyped-def]
    ckpt = torch.load(tiny.yolov6_checkpoint, map_location="cpu", weights_only=False)
    training_form = ckpt["model"].float().eval()
    images = _images(1, 2)
    assert np.abs(_torch_raw(training_form, images) - _torch_raw(tiny_yolov6, images)).max() < 1e-2


def test_detector_card_records_contract_and_class_map(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["detector"])
    assert card.kind == "detector"
    assert card.input_contract == "uint8_nhwc_rgb"
    assert card.input(tn.DETECTOR_INPUT).shape == (-1, 320, 320, 3)
    assert card.output(tn.DETECTOR_RAW_OUTPUT).shape == (-1, 2100, 7)
    assert card.class_names == ("bed", "load")
    assert card.class_map == {"bed": 0, "load": 1}
    assert card.nms == "none"
    assert card.pad_rgb == (114, 114, 114)


def test_onnx_nms_agrees_with_reference_nms(detector_with_onnx_nms, tiny_yolov6) -> None:  # type: ignore[no-untyped-def]
    images = _images(3, 3)
    session = _session(detector_with_onnx_nms)
    num, boxes, scores, classes = session.run(
        [tn.DETECTOR_NUM_DETS, tn.DETECTOR_BOXES, tn.DETECTOR_SCORES, tn.DETECTOR_CLASSES],
        {tn.DETECTOR_INPUT: images},
    )
    assert num.dtype == np.int32 and classes.dtype == np.int32
    assert boxes.shape == (3, 20, 4) and scores.shape == (3, 20)
    reference = _reference_nms(_torch_raw(tiny_yolov6, images), 0.5, 0.2, 20)
    for i, (ref_boxes, ref_scores, ref_classes) in enumerate(reference):
        n = int(num[i, 0])
        assert n == len(ref_scores) > 0
        order = np.lexsort((classes[i, :n], -scores[i, :n]))
        ref_order = np.lexsort((ref_classes, -ref_scores))
        np.testing.assert_allclose(scores[i, :n][order], ref_scores[ref_order], atol=TOL)
        np.testing.assert_array_equal(classes[i, :n][order], ref_classes[ref_order])
        np.testing.assert_allclose(boxes[i, :n][order], ref_boxes[ref_order], atol=TOL)
        assert np.all(scores[i, n:] == 0) and np.all(classes[i, n:] == -1)


def test_onnx_nms_returns_zero_detections_when_nothing_passes_the_threshold(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = NmsSettings("onnx", max_detections=5, score_threshold=0.99)
    result = export_yolov6(tiny.yolov6_checkpoint, tmp_path, 320, nms=settings)
    num, boxes = _session(result.model).run(
        [tn.DETECTOR_NUM_DETS, tn.DETECTOR_BOXES], {tn.DETECTOR_INPUT: _images(2, 4)}
    )
    assert num.tolist() == [[0], [0]]
    assert boxes.shape == (2, 5, 4) and not boxes.any()


def test_tensorrt_nms_graph_ends_in_one_efficient_nms_node(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = NmsSettings("tensorrt", max_detections=50, iou_threshold=0.6, score_threshold=0.3)
    result = export_yolov6(tiny.yolov6_checkpoint, tmp_path, 320, nms=settings)
    model = onnx.load(str(result.model))
    plugin = [n for n in model.graph.node if n.op_type == "EfficientNMS_TRT"]
    assert len(plugin) == 1 and plugin[0].domain == TRT_DOMAIN
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in plugin[0].attribute}
    assert attrs["max_output_boxes"] == 50 and attrs["box_coding"] == 0
    assert attrs["iou_threshold"] == pytest.approx(0.6)
    assert attrs["score_threshold"] == pytest.approx(0.3)
    assert list(plugin[0].output) == [o.name for o in model.graph.output]
    assert [o.name for o in model.graph.output] == [
        tn.DETECTOR_NUM_DETS,
        tn.DETECTOR_BOXES,
        tn.DETECTOR_SCORES,
        tn.DETECTOR_CLASSES,
    ]
    card = ModelCard.for_model(result.model)
    assert card.nms == "tensorrt" and card.max_detections == 50
    assert not list(tmp_path.glob(".raw-*"))


def _yolov6_own_export(model, path: Path, size: int = 320) -> Path:  # type: ignore[no-untyped-def]
    """What YOLOv6's deploy/ONNX/export_onnx.py writes: float NCHW 'images' -> 'outputs'."""
    torch.onnx.export(
        model,
        torch.zeros(1, 3, size, size),
        str(path),
        input_names=["images"],
        output_names=["outputs"],
        opset_version=13,
        dynamo=False,
    )
    return path


def test_from_onnx_adopts_yolov6_export_and_records_float_contract(tiny_yolov6, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = _yolov6_own_export(tiny_yolov6, tmp_path / "yolov6.onnx")
    result = import_yolov6_onnx(source, tmp_path / "out", classes="truck=bed,mine=load")
    card = ModelCard.for_model(result.model)
    assert card.input_contract == "float32_nchw_rgb_unit"
    assert card.input(tn.DETECTOR_INPUT).shape == (1, 3, 320, 320)
    assert card.class_names == ("truck", "mine")
    assert card.class_map == {"bed": 0, "load": 1}
    images = _images(1, 5)
    x = (images.transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    (got,) = _session(result.model).run([tn.DETECTOR_RAW_OUTPUT], {tn.DETECTOR_INPUT: x})
    assert np.abs(got - _torch_raw(tiny_yolov6, images)).max() <= TOL


def test_from_onnx_with_onnx_nms_has_the_named_nms_outputs(tiny_yolov6, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = _yolov6_own_export(tiny_yolov6, tmp_path / "yolov6.onnx")
    result = import_yolov6_onnx(source, tmp_path / "out", nms=NmsSettings("onnx"))
    outputs = [o.name for o in _session(result.model).get_outputs()]
    assert outputs == [
        tn.DETECTOR_NUM_DETS,
        tn.DETECTOR_BOXES,
        tn.DETECTOR_SCORES,
        tn.DETECTOR_CLASSES,
    ]


def test_from_onnx_refuses_a_model_that_is_not_a_raw_yolov6_export(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="expected one float input"):
        import_yolov6_onnx(tiny.root / "sam_decoder.onnx", tmp_path / "out")


def test_from_onnx_refuses_a_file_that_is_not_onnx(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ExportError, match="cannot read ONNX file"):
        import_yolov6_onnx(bad, tmp_path / "out")


@pytest.mark.parametrize(
    ("spec", "num_classes", "names", "mapping"),
    [
        (None, 2, ("bed", "load"), {"bed": 0, "load": 1}),
        ("bed,load", 2, ("bed", "load"), {"bed": 0, "load": 1}),
        ("truck=bed,mine=load", 2, ("truck", "mine"), {"bed": 0, "load": 1}),
        ("person, mine=load ,truck=bed", 3, ("person", "mine", "truck"), {"bed": 2, "load": 1}),
    ],
)
def test_class_map_parses_names_in_class_id_order(spec, num_classes, names, mapping) -> None:  # type: ignore[no-untyped-def]
    assert parse_class_map(spec, num_classes) == (names, mapping)


@pytest.mark.parametrize(
    ("spec", "num_classes", "message"),
    [
        (None, 3, "the detector has 3 classes"),
        ("truck=bed", 2, "names 1 classes but the detector has 2"),
        ("truck=bed,mine=rock", 2, "maps to 'rock'"),
        ("truck=bed,mine=bed", 2, "'bed' is mapped twice"),
        ("truck=bed,mine", 2, r"maps no detector class to \['load'\]"),
    ],
)
def test_bad_class_maps_are_refused_with_a_reason(spec, num_classes, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match=message):
        parse_class_map(spec, num_classes)


def test_missing_yolov6_checkpoint_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="YOLOv6 checkpoint not found"):
        export_yolov6(tmp_path / "best_ckpt.pt", tmp_path / "out")


def test_corrupt_yolov6_checkpoint_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "best_ckpt.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ExportError, match="cannot read YOLOv6 checkpoint"):
        export_yolov6(bad, tmp_path / "out")


def test_sam_checkpoint_is_not_accepted_as_yolov6(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ckpt = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    with pytest.raises(ExportError, match="not a YOLOv6 checkpoint"):
        export_yolov6(ckpt, tmp_path / "out")


@pytest.mark.parametrize("img_size", [300, 32, 4096])
def test_unsupported_detector_image_size_is_refused(tiny, tmp_path, img_size) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="unsupported detector image size"):
        export_yolov6(tiny.yolov6_checkpoint, tmp_path / "out", img_size)


def test_unknown_nms_mode_is_refused() -> None:
    with pytest.raises(ExportError, match="--nms must be one of"):
        NmsSettings("fast")


def test_fp16_detector_keeps_uint8_input_and_stays_close_to_fp32(
    tiny, tiny_yolov6, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    result = export_yolov6(tiny.yolov6_checkpoint, tmp_path, 320, fp16=True)
    card = ModelCard.for_model(result.model)
    assert card.dtype == "fp16" and card.input(tn.DETECTOR_INPUT).dtype == "uint8"
    images = _images(1, 6)
    (got,) = _session(result.model).run(None, {tn.DETECTOR_INPUT: images})
    want = _torch_raw(tiny_yolov6, images)
    assert got.dtype == np.float32
    assert np.abs(got[..., 4:] - want[..., 4:]).max() < 0.02  # scores
    assert np.abs(got[..., :4] - want[..., :4]).max() < 1.0  # pixels
