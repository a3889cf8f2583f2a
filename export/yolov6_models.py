"""YOLOv6 models (the ``yolov6`` package of the ``yolov6detect`` distribution).

YOLOv6 checkpoints are pickled ``nn.Module`` objects (``{"model": module, "ema": ..., ...}``, as
YOLOv6 training writes them). Loading one runs arbitrary code, so :func:`load_yolov6_checkpoint`
needs ``weights_only=False``: **export only checkpoints you trust** (your own training runs), and
never accept one through an upload.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadcheck.export.onnx_utils import ExportError, require_file
from loadcheck.payloads import CLASS_NAMES

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

YOLOV6_CONFIGS: tuple[str, ...] = ("yolov6n", "yolov6s", "yolov6m", "yolov6l")
MIN_IMG_SIZE = 64
MAX_IMG_SIZE = 2048


def build_yolov6(
    config: str = "yolov6n",
    num_classes: int = 2,
    *,
    width_multiple: float | None = None,
    depth_multiple: float | None = None,
    training_mode: str = "repvgg",
) -> torch.nn.Module:
    """A randomly initialised YOLOv6 (training form, RepVGG branches unfused).

    Args:
        config: one of :data:`YOLOV6_CONFIGS` (the configs shipped in ``yolov6/configs``).
        num_classes: C, detector classes.
        width_multiple / depth_multiple: override the config's multipliers (e.g. 0.125 / 0.33
            for a tiny model).
        training_mode: block type (``"repvgg"`` for n/s; the l config uses ``"conv_silu"``);
            the shipped configs need it set.
    """
    from yolov6.models.yolo import build_model
    from yolov6.utils.config import Config

    if config not in YOLOV6_CONFIGS:
        raise ExportError(f"unknown YOLOv6 config {config!r}; expected one of {YOLOV6_CONFIGS}")
    if num_classes < 1:
        raise ExportError(f"num_classes must be >= 1, got {num_classes}")
    import yolov6

    path = Path(yolov6.__file__).parent / "configs" / f"{config}.py"
    cfg = Config.fromfile(str(path))
    if not hasattr(cfg, "training_mode"):
        cfg.training_mode = training_mode
    if width_multiple is not None:
        cfg.model.width_multiple = width_multiple
    if depth_multiple is not None:
        cfg.model.depth_multiple = depth_multiple
    return build_model(cfg, num_classes, "cpu")


def save_yolov6_checkpoint(
    model: torch.nn.Module, path: str | os.PathLike[str], *, epoch: int = -1
) -> Path:
    """Write ``model`` in YOLOv6's checkpoint format (``strip_optimizer`` form: fp16 module in
    ``"model"``, no EMA/optimizer)."""
    import copy

    import torch

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    module = copy.deepcopy(model).half()
    for param in module.parameters():
        param.requires_grad = False
    ckpt = {"model": module, "ema": None, "updates": None, "optimizer": None, "epoch": epoch}
    torch.save(ckpt, target)
    return target


def load_yolov6_checkpoint(checkpoint: str | os.PathLike[str]) -> torch.nn.Module:
    """Load a YOLOv6 checkpoint (trusted files only: ``weights_only=False`` unpickles code).

    Returns the float32 model in deploy form: Conv+BN fused, RepVGG blocks re-parameterised,
    eval mode (the Detect head then returns ``[B, N, 5 + C]``).
    """
    import torch

    path = require_file(checkpoint, "YOLOv6 checkpoint")
    try:
        ckpt: Any = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # pickle, zip and runtime errors for corrupt files
        raise ExportError(
            f"cannot read YOLOv6 checkpoint {path}: {exc.__class__.__name__}: {exc}. Expected a "
            "checkpoint written by YOLOv6 training (e.g. best_ckpt.pt)"
        ) from exc
    if not isinstance(ckpt, dict):
        raise ExportError(
            f"{path} is not a YOLOv6 checkpoint: expected a dict with a 'model' module, "
            f"got {type(ckpt).__name__}"
        )
    model = ckpt.get("ema") or ckpt.get("model")
    if not isinstance(model, torch.nn.Module) or not all(
        hasattr(model, part) for part in ("backbone", "neck", "detect")
    ):
        hint = (
            " (this looks like a state dict, e.g. a SAM checkpoint)" if _is_state_dict(ckpt) else ""
        )
        raise ExportError(
            f"{path} is not a YOLOv6 checkpoint: expected 'model' to be a YOLOv6 Model with "
            f"backbone/neck/detect{hint}"
        )
    return to_deploy(model.float())


def to_deploy(model: torch.nn.Module) -> torch.nn.Module:
    """Fuse Conv+BN and re-parameterise RepVGG blocks (in place); eval mode."""
    from yolov6.layers.common import RepVGGBlock
    from yolov6.utils.torch_utils import fuse_model

    model = fuse_model(model.eval())
    for layer in model.modules():
        if isinstance(layer, RepVGGBlock):
            layer.switch_to_deploy()
    return model.eval()


def max_stride(model: torch.nn.Module) -> int:
    """Largest detection stride (32, or 64 for P6 models)."""
    detect: Any = model.detect
    return int(max(int(s) for s in detect.stride))


def check_detector_img_size(img_size: int, stride: int) -> None:
    """:class:`ExportError` unless ``img_size`` is a multiple of ``stride`` in [64, 2048]."""
    if img_size % stride or not MIN_IMG_SIZE <= img_size <= MAX_IMG_SIZE:
        raise ExportError(
            f"unsupported detector image size {img_size}: expected a multiple of the model's "
            f"stride {stride} between {MIN_IMG_SIZE} and {MAX_IMG_SIZE} (e.g. 640)"
        )


def parse_class_map(
    spec: str | Sequence[str] | None, num_classes: int
) -> tuple[tuple[str, ...], dict[str, int]]:
    """Parse ``--classes``: the detector's class names in class-id order, each optionally mapped
    to a loadcheck class with ``=``.

    ``"bed,load"`` -> names (bed, load), map {bed: 0, load: 1};
    ``"truck=bed,mine=load"`` -> names (truck, mine), map {bed: 0, load: 1};
    ``"person,truck=bed,mine=load"`` -> map {bed: 1, load: 2}. ``None`` means ``"bed,load"`` and
    only works for a two-class detector. Both ``bed`` and ``load`` must be mapped exactly once.

    Returns ``(class_names, class_map)``.
    """
    if spec is None:
        if num_classes != len(CLASS_NAMES):
            raise ExportError(
                f"the detector has {num_classes} classes: give --classes with {num_classes} "
                "comma-separated names, mapping two of them to bed and load "
                "(e.g. truck=bed,mine=load)"
            )
        spec = ",".join(CLASS_NAMES)
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    if len(items) != num_classes or any(not item for item in items):
        raise ExportError(
            f"--classes {','.join(items)!r} names {len(items)} classes but the detector has "
            f"{num_classes}; list every detector class in class-id order"
        )
    names: list[str] = []
    mapping: dict[str, int] = {}
    for class_id, item in enumerate(items):
        name, _, target = item.partition("=")
        name, target = name.strip(), target.strip()
        if not target and name in CLASS_NAMES:
            target = name
        if target:
            if target not in CLASS_NAMES:
                raise ExportError(
                    f"--classes: {item!r} maps to {target!r}; expected one of {CLASS_NAMES}"
                )
            if target in mapping:
                raise ExportError(f"--classes: {target!r} is mapped twice")
            mapping[target] = class_id
        names.append(name)
    missing = [c for c in CLASS_NAMES if c not in mapping]
    if missing:
        raise ExportError(
            f"--classes {','.join(items)!r} maps no detector class to {missing}; "
            "write e.g. truck=bed,mine=load"
        )
    return tuple(names), {c: mapping[c] for c in CLASS_NAMES}


def _is_state_dict(ckpt: dict[Any, Any]) -> bool:
    import torch

    return bool(ckpt) and all(isinstance(v, torch.Tensor) for v in ckpt.values())
