"""The ``python-torch`` runtime's networks: the exporters' PyTorch modules, same tensor contract.

* ``sam_encoder`` / ``sam_decoder``: rebuilt at load time from the SAM state dict
  (``torch.load(weights_only=True)``: no pickle code runs) with the exporter's wrappers
  (:func:`loadcheck.export.sam_onnx.make_encoder_module` / ``make_decoder_module``).
* ``detector``: YOLOv6 checkpoints are pickles, so the *builder* (a trusted step, like the
  export) loads it once and saves the deploy-form wrapper as TorchScript (``model.ts``); the
  server only runs ``torch.jit.load``.

On GPU the networks run in bfloat16 autocast; outputs are cast back to float32.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from loadcheck import tensor_names as tn

LOGGER = logging.getLogger(__name__)
SAM_FILE = "sam.pth"
DETECTOR_FILE = "model.ts"


class TorchRuntimeError(ValueError):
    """A ``python-torch`` network cannot be prepared or loaded; the message says why."""


def find_checkpoint(export_dir: Path, file_name: str, sha256: str) -> Path:
    """The card's source checkpoint in ``export_dir`` or ``export_dir/checkpoints``, sha-checked."""
    from loadcheck.export.onnx_utils import sha256_file

    for candidate in (export_dir / file_name, export_dir / "checkpoints" / file_name):
        if candidate.is_file():
            if sha256 and sha256_file(candidate) != sha256:
                raise TorchRuntimeError(f"{candidate}: sha256 differs from the model card's")
            return candidate
    raise TorchRuntimeError(
        f"python-torch needs the checkpoint {file_name!r} the model was exported from, in "
        f"{export_dir} or {export_dir / 'checkpoints'}"
    )


def prepare_network(
    name: str, checkpoint: Path, model_type: str, image_size: int, out_dir: Path
) -> tuple[dict[str, Path], dict[str, str]]:
    """Files for the version folder and the model parameters of network ``name``."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"network": name, "model_type": model_type, "img_size": str(image_size)}
    if name in (tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL):
        target = out_dir / SAM_FILE
        shutil.copy2(checkpoint, target)
        return {SAM_FILE: target}, {**params, "file": SAM_FILE}
    if name == tn.DETECTOR_MODEL:
        from loadcheck.export.yolov6_models import load_yolov6_checkpoint
        from loadcheck.export.yolov6_onnx import make_detector_module

        module = make_detector_module(load_yolov6_checkpoint(checkpoint))
        sample = torch.zeros((1, image_size, image_size, 3), dtype=torch.uint8)
        with torch.inference_mode():
            traced = torch.jit.trace(module, (sample,), check_trace=False)
        target = out_dir / DETECTOR_FILE
        torch.jit.save(traced, str(target))
        return {DETECTOR_FILE: target}, {**params, "file": DETECTOR_FILE}
    raise TorchRuntimeError(f"python-torch: unknown network {name!r}")


def load_network(params: dict[str, str], directory: Path) -> Any:
    """The ``torch.nn.Module`` (eval mode, CPU) described by the model parameters."""
    import torch

    name, path = params["network"], directory / params["file"]
    if name == tn.DETECTOR_MODEL:
        return torch.jit.load(str(path), map_location="cpu").eval()
    from loadcheck.export.sam_models import load_sam
    from loadcheck.export.sam_onnx import make_decoder_module, make_encoder_module

    sam, _ = load_sam(path, params["model_type"], int(params["img_size"]))
    make = make_encoder_module if name == tn.SAM_ENCODER_MODEL else make_decoder_module
    return make(sam).eval()
