"""SAM architectures (segment-anything's own modules) and checkpoint loading.

:data:`SAM_CONFIGS` is the registry: segment-anything's ``vit_b``, ``vit_l`` and ``vit_h`` plus
``vit_tiny``, a small ``ImageEncoderViT`` (depth 4, dim 192, 4 heads, window 8, one global block)
with SAM's real prompt encoder and mask decoder at prompt dim 256, so its decoder contract is the
same as the big models'. Checkpoints are plain state dicts loaded with ``weights_only=True``.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from loadcheck.export.onnx_utils import ExportError, require_file

if TYPE_CHECKING:
    import torch
    from segment_anything.modeling import Sam

logger = logging.getLogger(__name__)

PATCH_SIZE = 16
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
MIN_IMG_SIZE = 64
MAX_IMG_SIZE = 2048


@dataclass(frozen=True)
class SamConfig:
    """One SAM architecture.

    Attributes:
        encoder_embed_dim: ViT width.
        encoder_depth: number of ViT blocks.
        encoder_num_heads: attention heads per block.
        global_attn_indexes: blocks with global (not windowed) attention.
        window_size: side of the attention windows, in patches.
        native_img_size: S the public checkpoints were trained at.
        prompt_embed_dim: channels of the image embedding and of the decoder.
        decoder_mlp_dim: MLP width of the decoder's two-way transformer.
    """

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int = 14
    native_img_size: int = 1024
    prompt_embed_dim: int = 256
    decoder_mlp_dim: int = 2048


SAM_CONFIGS: dict[str, SamConfig] = {
    "vit_b": SamConfig(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamConfig(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamConfig(1280, 32, 16, (7, 15, 23, 31)),
    "vit_tiny": SamConfig(192, 4, 4, (3,), window_size=8, native_img_size=256),
}
SAM_MODEL_TYPES: tuple[str, ...] = tuple(SAM_CONFIGS)


def check_img_size(img_size: int) -> None:
    """:class:`ExportError` unless ``img_size`` is a multiple of 16 in [64, 2048]."""
    if img_size % PATCH_SIZE or not MIN_IMG_SIZE <= img_size <= MAX_IMG_SIZE:
        raise ExportError(
            f"unsupported SAM image size {img_size}: expected a multiple of {PATCH_SIZE} "
            f"between {MIN_IMG_SIZE} and {MAX_IMG_SIZE} (e.g. 1024 or 512)"
        )


def build_sam(model_type: str, img_size: int | None = None) -> Sam:
    """A randomly initialised SAM of ``model_type`` whose encoder runs at ``img_size`` (default:
    the type's native size), built from segment-anything's modules. Returned in eval mode."""
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    config = sam_config(model_type)
    size = config.native_img_size if img_size is None else img_size
    check_img_size(size)
    embedding_side = size // PATCH_SIZE
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=config.encoder_depth,
            embed_dim=config.encoder_embed_dim,
            img_size=size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=config.encoder_num_heads,
            patch_size=PATCH_SIZE,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=config.global_attn_indexes,
            window_size=config.window_size,
            out_chans=config.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=config.prompt_embed_dim,
            image_embedding_size=(embedding_side, embedding_side),
            input_image_size=(size, size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2,
                embedding_dim=config.prompt_embed_dim,
                mlp_dim=config.decoder_mlp_dim,
                num_heads=8,
            ),
            transformer_dim=config.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=list(PIXEL_MEAN),
        pixel_std=list(PIXEL_STD),
    )
    return sam.eval()


def sam_config(model_type: str) -> SamConfig:
    """The registry entry; :class:`ExportError` listing the known types otherwise."""
    try:
        return SAM_CONFIGS[model_type]
    except KeyError:
        raise ExportError(
            f"unknown SAM model type {model_type!r}; expected one of {list(SAM_MODEL_TYPES)}"
        ) from None


def detect_model_type(state_dict: dict[str, torch.Tensor]) -> str:
    """The registry key whose encoder width and depth match ``state_dict``.

    Raises :class:`ExportError` when the state dict is not a SAM checkpoint or matches no type.
    """
    key = "image_encoder.patch_embed.proj.weight"
    if key not in state_dict:
        raise ExportError(
            f"not a SAM checkpoint: the state dict has no {key!r} "
            f"(first keys: {list(state_dict)[:3]})"
        )
    embed_dim = int(state_dict[key].shape[0])
    depth = _encoder_depth(state_dict)
    for name, config in SAM_CONFIGS.items():
        if config.encoder_embed_dim == embed_dim and config.encoder_depth == depth:
            return name
    known = ", ".join(
        f"{n}: {c.encoder_embed_dim}/{c.encoder_depth}" for n, c in SAM_CONFIGS.items()
    )
    raise ExportError(
        f"SAM checkpoint with embed dim {embed_dim} and depth {depth} matches no known type "
        f"(embed dim/depth: {known})"
    )


def load_sam_state_dict(checkpoint: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a SAM checkpoint as a plain state dict (``torch.load(weights_only=True)``).

    Accepts the official files (a bare state dict) and ``{"model": state_dict}`` wrappers.
    """
    import torch

    path = require_file(checkpoint, "SAM checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):
            raise ExportError(
                f"cannot read SAM checkpoint {path}: not a PyTorch file or corrupt. Expected a "
                "state dict such as sam_vit_b_01ec64.pth"
            ) from exc
        raise ExportError(
            f"SAM checkpoint {path} is not a plain state dict: it holds pickled Python objects "
            "(a YOLOv6 or other training checkpoint?), which are never loaded. Expected a "
            "state dict such as sam_vit_b_01ec64.pth"
        ) from exc
    except Exception as exc:  # torch raises pickle/zip/runtime errors for corrupt files
        raise ExportError(
            f"cannot read SAM checkpoint {path}: {exc.__class__.__name__}: {exc}. Expected a "
            "PyTorch state dict (e.g. sam_vit_b_01ec64.pth)"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        data = data["model"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ExportError(f"SAM checkpoint {path} is not a state dict of tensors")
    return data


def load_sam(
    checkpoint: str | os.PathLike[str], model_type: str | None = None, img_size: int | None = None
) -> tuple[Sam, str]:
    """Build SAM from ``checkpoint`` at ``img_size``; returns ``(sam, model_type)``.

    ``model_type`` None means detect it. A given type that disagrees with the checkpoint raises
    :class:`ExportError` naming both (``"embed dim 1024 and depth 24 is vit_l, not vit_b"``).
    Position embeddings (and the relative position tables of the global-attention blocks) are
    resized here, once, when ``img_size`` differs from the checkpoint's size.
    """
    state_dict = load_sam_state_dict(checkpoint)
    detected = detect_model_type(state_dict)
    if model_type is not None and model_type != detected:
        sam_config(model_type)
        embed_dim = state_dict["image_encoder.patch_embed.proj.weight"].shape[0]
        raise ExportError(
            f"checkpoint {Path(checkpoint).name}: embed dim {embed_dim} and depth "
            f"{_encoder_depth(state_dict)} is {detected}, not {model_type}"
        )
    ckpt_size = int(state_dict["image_encoder.pos_embed"].shape[1]) * PATCH_SIZE
    size = ckpt_size if img_size is None else img_size
    check_img_size(size)
    sam = build_sam(detected, size)
    if size != ckpt_size:
        logger.info("resizing %s position embeddings from %d to %d px", detected, ckpt_size, size)
        state_dict = resize_position_tables(state_dict, size // PATCH_SIZE)
    try:
        sam.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ExportError(
            f"checkpoint {Path(checkpoint).name} does not fit {detected}: {exc}"
        ) from exc
    return sam.eval(), detected


def resize_position_tables(
    state_dict: dict[str, torch.Tensor], grid: int
) -> dict[str, torch.Tensor]:
    """Copy of ``state_dict`` with the encoder's absolute position embedding resized (bicubic) to
    ``grid x grid`` patches and every global-attention block's relative position tables resized
    (linear, as segment-anything's ``get_rel_pos`` does) to ``2 * grid - 1`` rows.

    Windowed blocks keep their ``2 * window - 1`` tables; a table is recognised as global when its
    length equals ``2 * old_grid - 1``.
    """
    import torch.nn.functional as F

    resized = dict(state_dict)
    pos = state_dict["image_encoder.pos_embed"]  # [1, G, G, C]
    old_grid = int(pos.shape[1])
    new_pos = F.interpolate(
        pos.permute(0, 3, 1, 2).float(), size=(grid, grid), mode="bicubic", align_corners=False
    )
    resized["image_encoder.pos_embed"] = new_pos.permute(0, 2, 3, 1).contiguous().to(pos.dtype)
    for key, table in state_dict.items():
        if re.fullmatch(r"image_encoder\.blocks\.\d+\.attn\.rel_pos_[hw]", key) and (
            table.shape[0] == 2 * old_grid - 1
        ):
            new_table = F.interpolate(
                table.float().t().unsqueeze(0), size=2 * grid - 1, mode="linear"
            )
            resized[key] = new_table.squeeze(0).t().contiguous().to(table.dtype)
    return resized


def _encoder_depth(state_dict: dict[str, torch.Tensor]) -> int:
    blocks = {
        int(m.group(1))
        for k in state_dict
        if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k)) is not None
    }
    return len(blocks)
