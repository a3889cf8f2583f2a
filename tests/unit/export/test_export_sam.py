"""SAM export: ONNX Runtime against PyTorch, contracts, cards and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from loadcheck import tensor_names as tn
from loadcheck.export.onnx_utils import ExportError
from loadcheck.export.sam_models import (
    PIXEL_MEAN,
    PIXEL_STD,
    build_sam,
    detect_model_type,
    load_sam,
    load_sam_state_dict,
)
from loadcheck.export.sam_onnx import export_sam
from loadcheck.export.tiny import build_tiny_sam_checkpoint
from loadcheck.pipeline.cards import ModelCard

pytestmark = pytest.mark.torch  # exports PyTorch models
TOL = 1e-3


def _session(path: Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _reference_embeddings(sam, image_u8: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """segment-anything's own normalisation and encoder on an unpadded S x S image."""
    x = torch.from_numpy(image_u8).permute(0, 3, 1, 2).float()
    mean = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return sam.image_encoder((x - mean) / std).numpy()


def _reference_decoder(sam, embeddings: np.ndarray, boxes: np.ndarray, coords, labels):  # type: ignore[no-untyped-def]
    """segment-anything's PromptEncoder (points + boxes) + MaskDecoder(multimask_output=False)."""
    with torch.no_grad():
        sparse, dense = sam.prompt_encoder(
            points=(torch.from_numpy(coords), torch.from_numpy(labels)),
            boxes=torch.from_numpy(boxes),
            masks=None,
        )
        masks, iou = sam.mask_decoder(
            image_embeddings=torch.from_numpy(embeddings),
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
    return masks.numpy(), iou.numpy()


def _card(tiny, name: str) -> tuple[ModelCard, Path]:  # type: ignore[no-untyped-def]
    card_path = tiny.cards[name]
    card = ModelCard.load(card_path)
    return card, card_path.parent / card.file


def test_encoder_onnx_matches_pytorch_for_a_batch_of_three(tiny, tiny_sam) -> None:  # type: ignore[no-untyped-def]
    _, path = _card(tiny, "sam_encoder")
    images = np.random.default_rng(5).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    (got,) = _session(path).run(None, {tn.SAM_ENCODER_INPUT: images})
    want = _reference_embeddings(tiny_sam, images)
    assert got.shape == (3, 256, 16, 16)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= TOL


def test_decoder_onnx_matches_segment_anything_with_and_without_points(tiny, tiny_sam) -> None:  # type: ignore[no-untyped-def]
    _, enc_path = _card(tiny, "sam_encoder")
    _, dec_path = _card(tiny, "sam_decoder")
    image = np.random.default_rng(6).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    (embeddings,) = _session(enc_path).run(None, {tn.SAM_ENCODER_INPUT: image})
    decoder = _session(dec_path)
    for count in (1, 7):
        xy = np.random.default_rng(count).uniform(0, 150, (count, 2))
        boxes = np.concatenate([xy, xy + 40 + 60 * np.random.default_rng(9).random((count, 2))], 1)
        boxes = boxes.astype(np.float32)
        coords = (boxes[:, None, :2] + 10.0).astype(np.float32)
        labels = np.array([[-1.0], [1.0], [0.0]] * 3, np.float32)[:count]  # none, fg, bg
        masks, iou = decoder.run(
            [tn.SAM_LOW_RES_MASKS, tn.SAM_IOU_PREDICTIONS],
            {
                tn.SAM_DECODER_EMBEDDINGS: embeddings,
                tn.SAM_DECODER_BOXES: boxes,
                tn.SAM_DECODER_POINT_COORDS: coords,
                tn.SAM_DECODER_POINT_LABELS: labels,
            },
        )
        want_masks, want_iou = _reference_decoder(tiny_sam, embeddings, boxes, coords, labels)
        assert masks.shape == (count, 1, 64, 64)
        assert iou.shape == (count, 1)
        assert np.abs(masks - want_masks).max() <= TOL
        assert np.abs(iou - want_iou).max() <= TOL


def test_sam_cards_record_contract_shapes_and_checkpoint_hash(tiny) -> None:  # type: ignore[no-untyped-def]
    from loadcheck.imageio import sha256_file

    enc, _ = _card(tiny, "sam_encoder")
    dec, _ = _card(tiny, "sam_decoder")
    assert enc.input(tn.SAM_ENCODER_INPUT).shape == (-1, 256, 256, 3)
    assert enc.input(tn.SAM_ENCODER_INPUT).dtype == "uint8"
    assert enc.output(tn.SAM_EMBEDDINGS).shape == (-1, 256, 16, 16)
    assert dec.input(tn.SAM_DECODER_EMBEDDINGS).shape == (1, 256, 16, 16)
    assert dec.input(tn.SAM_DECODER_BOXES).dim_names == ("K", "4")
    assert dec.input(tn.SAM_DECODER_POINT_COORDS).dim_names == ("K", "1", "2")
    assert dec.input(tn.SAM_DECODER_POINT_LABELS).dim_names == ("K", "1")
    assert dec.output(tn.SAM_LOW_RES_MASKS).shape == (-1, 1, 64, 64)
    assert enc.model_type == dec.model_type == "vit_tiny"
    assert enc.image_size == 256 and enc.opset == 17 and enc.dtype == "fp32"
    assert enc.source_sha256 == sha256_file(tiny.sam_checkpoint)
    assert "torch" in enc.library_versions


def test_other_img_size_resizes_position_tables_and_still_matches_pytorch(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = export_sam(tiny.sam_checkpoint, tmp_path, "vit_tiny", img_size=128)
    sam, _ = load_sam(tiny.sam_checkpoint, img_size=128)
    assert sam.image_encoder.pos_embed.shape == (1, 8, 8, 192)
    global_block = sam.image_encoder.blocks[3].attn
    assert global_block.rel_pos_h.shape[0] == 2 * 8 - 1
    windowed_block = sam.image_encoder.blocks[0].attn
    assert windowed_block.rel_pos_h.shape[0] == 2 * 8 - 1  # window 8, unchanged
    images = np.random.default_rng(7).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    (got,) = _session(result.encoder).run(None, {tn.SAM_ENCODER_INPUT: images})
    assert got.shape == (1, 256, 8, 8)
    assert np.abs(got - _reference_embeddings(sam, images)).max() <= TOL
    assert ModelCard.for_model(result.decoder).output(tn.SAM_LOW_RES_MASKS).shape[2:] == (32, 32)


def test_fp16_export_keeps_io_dtypes_and_stays_close_to_fp32(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = export_sam(tiny.sam_checkpoint, tmp_path, fp16=True)
    card = ModelCard.for_model(result.encoder)
    assert card.dtype == "fp16"
    assert card.input(tn.SAM_ENCODER_INPUT).dtype == "uint8"
    assert card.output(tn.SAM_EMBEDDINGS).dtype == "float32"
    images = np.random.default_rng(8).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    (half,) = _session(result.encoder).run(None, {tn.SAM_ENCODER_INPUT: images})
    (full,) = _session(tiny.root / "sam_encoder.onnx").run(None, {tn.SAM_ENCODER_INPUT: images})
    assert half.dtype == np.float32
    assert np.abs(half - full).max() <= 0.05 * np.abs(full).max()


def test_model_type_mismatch_names_both_types(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ckpt = build_tiny_sam_checkpoint(tmp_path / "tiny.pth")
    with pytest.raises(ExportError, match="embed dim 192 and depth 4 is vit_tiny, not vit_b"):
        export_sam(ckpt, tmp_path / "out", "vit_b")


@pytest.mark.parametrize(
    ("model_type", "embed_dim", "depth"),
    [("vit_b", 768, 12), ("vit_l", 1024, 24), ("vit_h", 1280, 32), ("vit_tiny", 192, 4)],
)
def test_model_type_is_detected_from_embed_dim_and_depth(model_type, embed_dim, depth) -> None:  # type: ignore[no-untyped-def]
    state = {"image_encoder.patch_embed.proj.weight": torch.zeros(embed_dim, 3, 1, 1)}
    state |= {f"image_encoder.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(depth)}
    assert detect_model_type(state) == model_type


def test_missing_checkpoint_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="SAM checkpoint not found"):
        export_sam(tmp_path / "nope.pth", tmp_path / "out")


def test_corrupt_checkpoint_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ExportError, match="cannot read SAM checkpoint"):
        export_sam(bad, tmp_path / "out")


def test_yolov6_checkpoint_is_not_accepted_as_sam(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="is not a plain state dict"):
        export_sam(tiny.yolov6_checkpoint, tmp_path / "out")


@pytest.mark.parametrize("img_size", [100, 0, 4096])
def test_unsupported_image_size_is_refused(tiny, tmp_path, img_size) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="unsupported SAM image size"):
        export_sam(tiny.sam_checkpoint, tmp_path / "out", img_size=img_size)


def test_state_dict_with_unknown_width_is_refused() -> None:
    state = {"image_encoder.patch_embed.proj.weight": torch.zeros(100, 3, 1, 1)}
    with pytest.raises(ExportError, match="embed dim 100 and depth 0 matches no known type"):
        detect_model_type(state)


def test_checkpoint_wrapped_in_model_key_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sam = build_sam("vit_tiny", 64)
    torch.save({"model": sam.state_dict()}, tmp_path / "wrapped.pth")
    assert set(load_sam_state_dict(tmp_path / "wrapped.pth")) == set(sam.state_dict())


def test_large_models_are_saved_with_external_data(tiny, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from loadcheck.export import onnx_utils

    monkeypatch.setattr(onnx_utils, "EXTERNAL_DATA_THRESHOLD_BYTES", 1_000_000)
    result = export_sam(tiny.sam_checkpoint, tmp_path)
    data = tmp_path / "sam_encoder.onnx.data"
    assert data.is_file() and data.stat().st_size > result.encoder.stat().st_size
    assert ModelCard.for_model(result.encoder).external_data
    images = np.random.default_rng(9).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    (got,) = _session(result.encoder).run(None, {tn.SAM_ENCODER_INPUT: images})
    (want,) = _session(tiny.root / "sam_encoder.onnx").run(None, {tn.SAM_ENCODER_INPUT: images})
    assert np.abs(got - want).max() <= TOL


def test_int8_encoder_is_recorded_on_its_card_and_stays_close_to_fp32(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = export_sam(tiny.sam_checkpoint, tmp_path, int8_encoder=True)
    card = ModelCard.load(result.encoder_card)
    assert card.dtype == "int8"
    assert card.extra["quantization"]["op_types"] == ["MatMul", "Gemm"]
    assert card.extra["quantization"]["smoke_cosine_vs_fp32"] > 0.99
    assert ModelCard.load(result.decoder_card).dtype == "fp32"
    ops = {node.op_type for node in __import__("onnx").load(str(result.encoder)).graph.node}
    assert "DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops
    image = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), np.uint8)
    fp32 = _session(tiny.root / "sam_encoder.onnx").run(None, {tn.SAM_ENCODER_INPUT: image})[0]
    int8 = _session(result.encoder).run(None, {tn.SAM_ENCODER_INPUT: image})[0]
    cos = float((fp32 * int8).sum() / np.linalg.norm(fp32) / np.linalg.norm(int8))
    assert cos > 0.99


def test_int8_decoder_is_recorded_on_its_card_and_its_masks_stay_close_to_fp32(  # type: ignore[no-untyped-def]
    tiny, tmp_path
) -> None:
    result = export_sam(tiny.sam_checkpoint, tmp_path, int8_decoder=True)
    card = ModelCard.load(result.decoder_card)
    assert card.dtype == "int8"
    assert card.extra["quantization"]["smoke_mask_agreement"] > 0.95
    assert card.extra["mask_threshold"] == 0.0
    assert ModelCard.load(result.encoder_card).dtype == "fp32"
    ops = {node.op_type for node in __import__("onnx").load(str(result.decoder)).graph.node}
    assert "DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops
    (embeddings,) = _session(result.encoder).run(
        None,
        {
            tn.SAM_ENCODER_INPUT: np.random.default_rng(1).integers(
                0, 256, (1, 256, 256, 3), np.uint8
            )
        },
    )
    feeds = {
        tn.SAM_DECODER_EMBEDDINGS: embeddings,
        tn.SAM_DECODER_BOXES: np.array([[20, 30, 200, 180], [60, 60, 120, 140]], np.float32),
        tn.SAM_DECODER_POINT_COORDS: np.array([[[110, 105]], [[90, 100]]], np.float32),
        tn.SAM_DECODER_POINT_LABELS: np.ones((2, 1), np.float32),
    }
    fp32 = _session(tiny.root / "sam_decoder.onnx").run(None, feeds)
    int8 = _session(result.decoder).run(None, feeds)
    assert int8[0].shape == fp32[0].shape and int8[1].shape == fp32[1].shape
    assert float(np.mean((int8[0] > 0) == (fp32[0] > 0))) > 0.95


@pytest.mark.parametrize("which", ["int8_encoder", "int8_decoder"])
def test_fp16_and_int8_together_are_refused(tiny, tmp_path, which) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportError, match="exclude each other"):
        export_sam(tiny.sam_checkpoint, tmp_path, fp16=True, **{which: True})
