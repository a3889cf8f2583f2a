"""Export SAM to two ONNX files: ``sam_encoder.onnx`` and ``sam_decoder.onnx``.

Encoder contract: ``image`` uint8 ``[B, S, S, 3]`` RGB (longest side resized to S, padded
bottom/right) -> ``image_embeddings`` float32 ``[B, 256, S/16, S/16]``. SAM's pixel
normalisation and HWC->CHW run inside the graph. Pad with the card's ``pad_rgb`` (SAM's pixel
mean, which normalises to ~0 like SAM's own zero padding after normalisation); black padding also
works, a little further from what SAM saw in training.

Decoder contract: ``image_embeddings`` float32 ``[1, 256, S/16, S/16]``, ``boxes_xyxy`` float32
``[K, 4]``, ``point_coords`` float32 ``[K, 1, 2]`` (all in pixels of the S x S frame) and
``point_labels`` float32 ``[K, 1]`` (SAM's labels: 1 foreground, 0 background, -1 no point) ->
``low_res_masks`` float32 ``[K, 1, S/4, S/4]`` logits (threshold 0) and ``iou_predictions``
float32 ``[K, 1]``. Prompt ``k`` is SAM's sparse prompt ``[point k, box corner 1, box corner 2]``
(corners with SAM's labels 2 and 3), exactly what ``SamPredictor.predict(point_coords,
point_labels, box)`` encodes; serving gives a load box a positive point and a bed box none
(:func:`loadcheck.pipeline.prompts.prompt_points`). The mask is SAM's first
(``multimask_output=False``) mask. No upsampling to the original image happens in the graph: the
masks model crops and resizes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.export.onnx_utils import (
    DEFAULT_OPSET,
    ExportError,
    library_versions,
    opset_of,
    tensor_specs,
    torch_to_onnx,
    utc_now,
    verify_onnx,
)
from loadcheck.export.sam_models import PATCH_SIZE, PIXEL_MEAN, PIXEL_STD, load_sam
from loadcheck.imageio import sha256_file
from loadcheck.pipeline.cards import (
    InputContract,
    ModelCard,
    ModelKind,
    TensorSpec,
    card_path_for,
)

if TYPE_CHECKING:
    import torch
    from segment_anything.modeling import Sam

logger = logging.getLogger(__name__)

ENCODER_FILE = "sam_encoder.onnx"
DECODER_FILE = "sam_decoder.onnx"
SAM_PAD_RGB = (124, 116, 104)  # SAM's pixel mean, rounded


@dataclass(frozen=True)
class SamExport:
    """Paths written by :func:`export_sam`."""

    encoder: Path
    decoder: Path
    encoder_card: Path
    decoder_card: Path
    model_type: str
    img_size: int


def make_encoder_module(sam: Sam) -> torch.nn.Module:
    """``image`` uint8 [B, S, S, 3] -> float32 [B, 256, S/16, S/16] (normalisation inside)."""
    import torch

    class SamEncoderOnnx(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image_encoder = sam.image_encoder
            self.register_buffer("mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            x = image.permute(0, 3, 1, 2).to(torch.float32)
            mean: Any = self.mean
            std: Any = self.std
            x = (x - mean) / std
            return self.image_encoder(x)

    return SamEncoderOnnx().eval()


def make_decoder_module(sam: Sam) -> torch.nn.Module:
    """(embeddings [1, 256, e, e], boxes_xyxy [K, 4], point_coords [K, 1, 2], point_labels
    [K, 1]) -> (low-res logits [K, 1, 4e, 4e], iou [K, 1]); the same computation as
    ``Sam.prompt_encoder(points, boxes)`` + ``Sam.mask_decoder(..., multimask_output=False)``,
    with the image embedding broadcast to K instead of ``repeat_interleave``."""
    import torch

    prompt_encoder = sam.prompt_encoder
    decoder = sam.mask_decoder
    input_size = prompt_encoder.input_image_size

    class SamDecoderOnnx(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.prompt_encoder = prompt_encoder
            self.mask_decoder = decoder

        def forward(
            self,
            image_embeddings: torch.Tensor,
            boxes_xyxy: torch.Tensor,
            point_coords: torch.Tensor,
            point_labels: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            pe = self.prompt_encoder
            md = self.mask_decoder
            # points: SAM's PromptEncoder._embed_points(pad=False), without in-place indexing
            point = pe.pe_layer.forward_with_coords(point_coords + 0.5, input_size)  # [K, 1, D]
            labels = point_labels.unsqueeze(-1)  # [K, 1, 1]
            none = (labels == -1).to(point.dtype)
            point = (
                point * (1.0 - none)
                + none * pe.not_a_point_embed.weight
                + (labels == 0).to(point.dtype) * pe.point_embeddings[0].weight
                + (labels == 1).to(point.dtype) * pe.point_embeddings[1].weight
            )
            coords = (boxes_xyxy + 0.5).reshape(-1, 2, 2)  # pixel centres, like SAM
            corners = pe.pe_layer.forward_with_coords(coords, input_size)
            corner_labels = torch.cat(
                [pe.point_embeddings[2].weight, pe.point_embeddings[3].weight]
            )
            sparse = torch.cat([point, corners + corner_labels.unsqueeze(0)], dim=1)  # [K, 3, D]
            k = sparse.shape[0]
            tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
            tokens = torch.cat([tokens.unsqueeze(0).expand(k, -1, -1), sparse], dim=1)
            _, c, h, w = image_embeddings.shape
            dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1)
            src = (image_embeddings + dense).expand(k, c, h, w)
            pos_src = pe.get_dense_pe().expand(k, c, h, w)
            hs, src = md.transformer(src, pos_src, tokens)
            iou_token_out = hs[:, 0, :]
            mask_token_out = hs[:, 1, :]  # first mask token: multimask_output=False
            upscaled = md.output_upscaling(src.transpose(1, 2).reshape(k, c, h, w))
            hyper_in = md.output_hypernetworks_mlps[0](mask_token_out).unsqueeze(1)  # [K,1,c']
            _, c2, h2, w2 = upscaled.shape
            masks = (hyper_in @ upscaled.reshape(k, c2, h2 * w2)).reshape(k, 1, h2, w2)
            iou = md.iou_prediction_head(iou_token_out)[:, 0:1]
            return masks, iou

    return SamDecoderOnnx().eval()


def export_sam(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_type: str | None = None,
    img_size: int | None = None,
    *,
    fp16: bool = False,
    int8_encoder: bool = False,
    int8_decoder: bool = False,
    opset: int = DEFAULT_OPSET,
) -> SamExport:
    """Export a SAM checkpoint to ``out_dir/sam_encoder.onnx`` and ``out_dir/sam_decoder.onnx``
    with a model card beside each (``<file>.card.json``).

    Args:
        checkpoint: official SAM ``.pth`` (plain state dict) or one written by
            :func:`loadcheck.export.tiny.build_tiny_sam_checkpoint`.
        out_dir: output folder (created).
        model_type: ``vit_b``/``vit_l``/``vit_h``/``vit_tiny``; None detects it. A mismatch with
            the checkpoint raises :class:`ExportError` naming both.
        img_size: encoder input side S (multiple of 16); None keeps the checkpoint's size.
            Another size resizes the position tables once at load time.
        fp16: fp16 weights and compute (inputs/outputs keep their dtypes).
        int8_encoder: quantise the encoder's MatMul weights to int8
            (:func:`loadcheck.export.quantize.quantize_int8`); its card records ``int8`` and how
            close its embeddings stay to fp32's on the smoke image.
        int8_decoder: the same for the mask decoder; its card records ``int8`` and how many of
            the smoke prompts' mask pixels agree with fp32's.
        opset: ONNX opset.

    Raises:
        ExportError: bad checkpoint, type mismatch, bad size, or a failed check or smoke run.
    """
    import torch

    if fp16 and (int8_encoder or int8_decoder):
        which = "--int8-encoder" if int8_encoder else "--int8-decoder"
        raise ExportError(f"--fp16 and {which} exclude each other: choose one precision")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sam, detected = load_sam(checkpoint, model_type, img_size)
    size = int(sam.image_encoder.img_size)
    grid = size // PATCH_SIZE
    dim = int(sam.prompt_encoder.embed_dim)
    source_sha = sha256_file(checkpoint)
    encoder_path = out / ENCODER_FILE
    decoder_path = out / DECODER_FILE
    for stale in (encoder_path, decoder_path):  # no old card may describe a new, failed file
        card_path_for(stale).unlink(missing_ok=True)

    image = torch.from_numpy(_smoke_image(2, size))
    encoder = make_encoder_module(sam)
    logger.info("exporting %s encoder at %d px to %s", detected, size, encoder_path)
    enc_meta = _export_module(
        encoder,
        (image,),
        encoder_path,
        [tn.SAM_ENCODER_INPUT],
        [tn.SAM_EMBEDDINGS],
        {tn.SAM_ENCODER_INPUT: {0: "B"}, tn.SAM_EMBEDDINGS: {0: "B"}},
        fp16=fp16,
        opset=opset,
        output_shapes={tn.SAM_EMBEDDINGS: ["B", dim, grid, grid]},
    )
    with torch.inference_mode():
        embeddings = encoder(image[:1]).numpy()
    boxes = _smoke_boxes(3, size)
    coords, labels = _smoke_points(boxes)
    decoder = make_decoder_module(sam)
    logger.info("exporting %s decoder to %s", detected, decoder_path)
    dec_meta = _export_module(
        decoder,
        tuple(torch.from_numpy(a) for a in (embeddings, boxes, coords, labels)),
        decoder_path,
        [
            tn.SAM_DECODER_EMBEDDINGS,
            tn.SAM_DECODER_BOXES,
            tn.SAM_DECODER_POINT_COORDS,
            tn.SAM_DECODER_POINT_LABELS,
        ],
        [tn.SAM_LOW_RES_MASKS, tn.SAM_IOU_PREDICTIONS],
        {
            tn.SAM_DECODER_BOXES: {0: "K"},
            tn.SAM_DECODER_POINT_COORDS: {0: "K"},
            tn.SAM_DECODER_POINT_LABELS: {0: "K"},
            tn.SAM_LOW_RES_MASKS: {0: "K"},
            tn.SAM_IOU_PREDICTIONS: {0: "K"},
        },
        fp16=fp16,
        opset=opset,
        output_shapes={
            tn.SAM_LOW_RES_MASKS: ["K", 1, 4 * grid, 4 * grid],
            tn.SAM_IOU_PREDICTIONS: ["K", 1],
        },
    )

    enc_out = verify_onnx(encoder_path, {tn.SAM_ENCODER_INPUT: image.numpy()}, [tn.SAM_EMBEDDINGS])
    if enc_out[tn.SAM_EMBEDDINGS].shape != (2, dim, grid, grid):
        raise ExportError(
            f"encoder smoke run: expected embeddings [2, {dim}, {grid}, {grid}], "
            f"got {list(enc_out[tn.SAM_EMBEDDINGS].shape)}"
        )
    enc_extra: dict[str, Any] = {"embedding_hw": [grid, grid], "patch_size": PATCH_SIZE}
    if int8_encoder:
        from loadcheck.export.quantize import cosine, quantize_in_place

        quantization = quantize_in_place(encoder_path, external_data=enc_meta.external)
        int8_out = verify_onnx(
            encoder_path, {tn.SAM_ENCODER_INPUT: image.numpy()}, [tn.SAM_EMBEDDINGS]
        )
        agreement = cosine(int8_out[tn.SAM_EMBEDDINGS], enc_out[tn.SAM_EMBEDDINGS])
        logger.info("int8 encoder: embeddings' cosine similarity to fp32 %.4f", agreement)
        enc_extra["quantization"] = {**quantization, "smoke_cosine_vs_fp32": round(agreement, 5)}
    dec_inputs = {
        tn.SAM_DECODER_EMBEDDINGS: embeddings,
        tn.SAM_DECODER_BOXES: boxes,
        tn.SAM_DECODER_POINT_COORDS: coords,
        tn.SAM_DECODER_POINT_LABELS: labels,
    }
    dec_outputs = [tn.SAM_LOW_RES_MASKS, tn.SAM_IOU_PREDICTIONS]
    dec_out = verify_onnx(decoder_path, dec_inputs, dec_outputs)
    if dec_out[tn.SAM_LOW_RES_MASKS].shape != (3, 1, grid * 4, grid * 4):
        raise ExportError(
            f"decoder smoke run: expected masks [3, 1, {grid * 4}, {grid * 4}], "
            f"got {list(dec_out[tn.SAM_LOW_RES_MASKS].shape)}"
        )
    dec_extra: dict[str, Any] = {"mask_threshold": 0.0, "low_res_mask_hw": [grid * 4, grid * 4]}
    if int8_decoder:
        from loadcheck.export.quantize import quantize_in_place

        quantization = quantize_in_place(decoder_path, external_data=dec_meta.external)
        int8_masks = verify_onnx(decoder_path, dec_inputs, dec_outputs)[tn.SAM_LOW_RES_MASKS]
        agreement = float(np.mean((int8_masks > 0) == (dec_out[tn.SAM_LOW_RES_MASKS] > 0)))
        logger.info("int8 decoder: %.4f of the smoke masks' pixels agree with fp32", agreement)
        dec_extra["quantization"] = {**quantization, "smoke_mask_agreement": round(agreement, 5)}

    common = {
        "model_type": detected,
        "format": "onnx",
        "image_size": size,
        "dtype": "fp16" if fp16 else "fp32",
        "source_checkpoint": Path(checkpoint).name,
        "source_sha256": source_sha,
        "library_versions": library_versions(),
        "created_utc": utc_now(),
        "pixel_mean": PIXEL_MEAN,
        "pixel_std": PIXEL_STD,
        "pad_rgb": SAM_PAD_RGB,
    }
    enc_card = ModelCard(
        kind=ModelKind.SAM_ENCODER.value,
        file=ENCODER_FILE,
        input_contract=InputContract.UINT8_NHWC_RGB.value,
        external_data=enc_meta.external,
        opset=enc_meta.opset,
        inputs=enc_meta.inputs,
        outputs=enc_meta.outputs,
        extra=enc_extra,
        **{**common, "dtype": "int8" if int8_encoder else common["dtype"]},  # type: ignore[arg-type]
    )
    dec_card = ModelCard(
        kind=ModelKind.SAM_DECODER.value,
        file=DECODER_FILE,
        input_contract=InputContract.SAM_EMBEDDINGS_BOXES_POINTS.value,
        external_data=dec_meta.external,
        opset=dec_meta.opset,
        inputs=dec_meta.inputs,
        outputs=dec_meta.outputs,
        extra=dec_extra,
        **{**common, "dtype": "int8" if int8_decoder else common["dtype"]},  # type: ignore[arg-type]
    )
    enc_card_path = enc_card.save(card_path_for(encoder_path))
    dec_card_path = dec_card.save(card_path_for(decoder_path))
    return SamExport(encoder_path, decoder_path, enc_card_path, dec_card_path, detected, size)


@dataclass(frozen=True)
class _ExportMeta:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    opset: int
    external: bool


_DIM_NAMES = {
    tn.SAM_ENCODER_INPUT: ("B", "S", "S", "3"),
    tn.SAM_EMBEDDINGS: ("B", "256", "S/16", "S/16"),
    tn.SAM_DECODER_BOXES: ("K", "4"),
    tn.SAM_DECODER_POINT_COORDS: ("K", "1", "2"),
    tn.SAM_DECODER_POINT_LABELS: ("K", "1"),
    tn.SAM_LOW_RES_MASKS: ("K", "1", "S/4", "S/4"),
    tn.SAM_IOU_PREDICTIONS: ("K", "1"),
}


def _export_module(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    *,
    fp16: bool,
    opset: int,
    output_shapes: dict[str, list[int | str]],
) -> _ExportMeta:
    """Export, save and read back the tensor specs for the card."""
    model, external = torch_to_onnx(
        module,
        args,
        path,
        input_names,
        output_names,
        dynamic_axes,
        fp16=fp16,
        opset=opset,
        output_shapes=output_shapes,
    )
    names = dict(_DIM_NAMES)
    if input_names[0] == tn.SAM_DECODER_EMBEDDINGS:
        names[tn.SAM_DECODER_EMBEDDINGS] = ("1", "256", "S/16", "S/16")
    return _ExportMeta(
        inputs=tensor_specs(model, names, outputs=False),
        outputs=tensor_specs(model, names, outputs=True),
        opset=opset_of(model),
        external=external,
    )


def _smoke_image(batch: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(batch, size, size, 3), dtype=np.uint8)


def _smoke_boxes(count: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    xy1 = rng.uniform(0, size / 2, size=(count, 2))
    wh = rng.uniform(size / 8, size / 2, size=(count, 2))
    return np.concatenate([xy1, xy1 + wh], axis=1).astype(np.float32)


def _smoke_points(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One prompt of each kind: a box alone, a box with a positive point, one with a negative."""
    coords = np.zeros((len(boxes), 1, 2), np.float32)
    coords[:, 0] = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    labels = np.array([[-1.0], [1.0], [0.0]][: len(boxes)], np.float32)
    return coords, labels
