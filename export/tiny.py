"""Tiny models with random weights, in the real checkpoint formats, for tests and demos.

* :func:`build_tiny_sam_checkpoint`: segment-anything's architecture at the ``vit_tiny``
  configuration, saved as a plain state dict like the official ``sam_vit_*.pth`` files.
* :func:`build_tiny_yolov6_checkpoint`: YOLOv6-n at width 0.125 / depth 0.33 (about 1.3 M
  parameters), saved as YOLOv6 training does (a pickled module under ``"model"``).
* :func:`export_tiny_models`: both, exported through the same code paths as real checkpoints
  (a few seconds on 2 CPU cores).

Weights are random but not degenerate: the heads that YOLOv6 and SAM initialise to constants are
re-drawn so boxes, scores and masks vary from pixel to pixel.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from loadcheck.export.onnx_utils import ExportError
from loadcheck.export.sam_models import build_sam, check_img_size
from loadcheck.export.sam_onnx import export_sam
from loadcheck.export.yolov6_models import build_yolov6, save_yolov6_checkpoint
from loadcheck.export.yolov6_onnx import NmsSettings, export_yolov6

logger = logging.getLogger(__name__)

TINY_SAM_TYPE = "vit_tiny"
TINY_YOLOV6_CONFIG = "yolov6n"
TINY_YOLOV6_WIDTH = 0.125
TINY_YOLOV6_DEPTH = 0.33


def build_tiny_sam_checkpoint(
    path: str | os.PathLike[str],
    img_size: int = 256,
    seed: int = 0,
    model_type: str = TINY_SAM_TYPE,
) -> Path:
    """Write a random SAM state dict (``vit_tiny`` unless ``model_type`` says another size, e.g.
    ``vit_b`` for timing) for encoder input ``img_size`` to ``path``."""
    import torch

    check_img_size(img_size)
    torch.manual_seed(seed)
    sam = build_sam(model_type, img_size)
    with torch.no_grad():
        encoder = sam.image_encoder
        if encoder.pos_embed is not None:
            encoder.pos_embed.normal_(0.0, 0.02)
        for name, param in encoder.named_parameters():
            if "rel_pos" in name:
                param.normal_(0.0, 0.02)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sam.state_dict(), target)
    return target


def build_tiny_yolov6_checkpoint(
    path: str | os.PathLike[str],
    img_size: int = 320,
    num_classes: int = 2,
    seed: int = 0,
    width_multiple: float = TINY_YOLOV6_WIDTH,
) -> Path:
    """Write a random YOLOv6-n (width ``width_multiple``, 0.125 by default; 0.25 is the real
    YOLOv6-n; depth 0.33) checkpoint with ``num_classes`` classes.

    YOLOv6 checkpoints do not depend on the input size; ``img_size`` (a multiple of 32) is
    checked and recorded under the checkpoint's ``"img_size"`` key for information only.
    """
    import torch

    if img_size % 32 or img_size < 64:
        raise ExportError(f"tiny YOLOv6 img_size must be a multiple of 32 >= 64, got {img_size}")
    torch.manual_seed(seed)
    model = build_yolov6(
        TINY_YOLOV6_CONFIG,
        num_classes,
        width_multiple=width_multiple,
        depth_multiple=TINY_YOLOV6_DEPTH,
    )
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        detect: Any = model.detect
        for conv in detect.cls_preds:
            conv.weight.normal_(0.0, 0.5)
            conv.bias.normal_(-1.0, 0.5)
        for conv in detect.reg_preds:
            conv.weight.normal_(0.0, 0.2)
            conv.bias.uniform_(0.5, 3.0)
    target = save_yolov6_checkpoint(model, path)
    ckpt = torch.load(target, map_location="cpu", weights_only=False)
    ckpt["img_size"] = img_size
    torch.save(ckpt, target)
    return target


def export_tiny_models(
    out_dir: str | os.PathLike[str],
    *,
    sam_img_size: int = 256,
    detector_img_size: int = 320,
    num_classes: int = 2,
    detector_nms: str = "none",
    seed: int = 0,
) -> dict[str, Path]:
    """Build tiny random checkpoints and export them into ``out_dir``.

    Writes ``out_dir/sam_encoder.onnx``, ``out_dir/sam_decoder.onnx`` and
    ``out_dir/detector.onnx``, each with its ``<file>.card.json``; the checkpoints go to
    ``out_dir/checkpoints/``. The detector's classes are ``bed, load`` (``num_classes == 2``) or
    ``bed, load, class2, ...``.

    Returns:
        ``{"sam_encoder": card, "sam_decoder": card, "detector": card}`` (card paths; the model
        file is the card's ``file`` in the same folder).
    """
    if num_classes < 2:
        raise ExportError(f"the tiny detector needs >= 2 classes (bed, load), got {num_classes}")
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    sam_ckpt = build_tiny_sam_checkpoint(ckpt_dir / "sam_vit_tiny.pth", sam_img_size, seed)
    sam = export_sam(sam_ckpt, out, TINY_SAM_TYPE, sam_img_size)
    det_ckpt = build_tiny_yolov6_checkpoint(
        ckpt_dir / "yolov6_tiny.pt", detector_img_size, num_classes, seed
    )
    names = ["bed", "load"] + [f"class{i}" for i in range(2, num_classes)]
    detector = export_yolov6(
        det_ckpt,
        out,
        detector_img_size,
        nms=NmsSettings(mode=detector_nms),
        classes=",".join(names),
    )
    logger.info("tiny models exported to %s", out)
    return {
        "sam_encoder": sam.encoder_card,
        "sam_decoder": sam.decoder_card,
        "detector": detector.card,
    }
