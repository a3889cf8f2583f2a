"""``python-torch``: the networks as the exporters' PyTorch modules, same tensor contract.

* ``sam_encoder`` / ``sam_decoder``: rebuilt at load time from the SAM state dict
  (``torch.load(weights_only=True)``: no pickle code runs) with the exporter's wrappers
  (:func:`loadcheck.export.sam_onnx.make_encoder_module` / ``make_decoder_module``).
  SAM's encoder attention runs through PyTorch's fused ``scaled_dot_product_attention``
  (:mod:`loadcheck.pipeline.sam_attention`) unless ``fused_attention`` is off.
* ``detector``: YOLOv6 checkpoints are pickles, so the *builder* (a trusted step, like the
  export) loads it once and saves the deploy-form wrapper as TorchScript (``model.ts``); the
  server only runs ``torch.jit.load``.

On GPU the networks run in bfloat16 autocast (``bf16``, the default); outputs are cast back to
float32. The requests Triton batches for one ``execute`` call run as one batch
(:class:`NetworkStep`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.imageio import sha256_file
from loadcheck.pipeline.networks import NetworkStep, torch_device
from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.sam_attention import use_fused_attention
from loadcheck.pipeline.step import Arrays, StepContext

LOGGER = logging.getLogger(__name__)
SAM_FILE = "sam.pth"
DETECTOR_FILE = "model.ts"
#: The networks built from the SAM state dict (``sam``: encoder + decoder in one model).
SAM_NETWORKS = (tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL, tn.SAM_MODEL)


class TorchRuntimeError(ValueError):
    """A ``python-torch`` network cannot be prepared or loaded; the message says why."""


def find_checkpoint(export_dir: Path, file_name: str, sha256: str) -> Path:
    """The card's source checkpoint in ``export_dir`` or ``export_dir/checkpoints``, sha-checked."""
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
) -> tuple[dict[str, Path], TorchNetworkSettings]:
    """Files for the version folder and the settings of network ``name``."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    if name in SAM_NETWORKS:
        target = out_dir / SAM_FILE
        shutil.copy2(checkpoint, target)
        return {SAM_FILE: target}, TorchNetworkSettings(name, model_type, image_size, SAM_FILE)
    if name == tn.DETECTOR_MODEL:
        from loadcheck.export.yolov6_models import load_yolov6_checkpoint
        from loadcheck.export.yolov6_onnx import make_detector_module

        module = make_detector_module(load_yolov6_checkpoint(checkpoint))
        sample = torch.zeros((1, image_size, image_size, 3), dtype=torch.uint8)
        with torch.inference_mode():
            traced = torch.jit.trace(module, (sample,), check_trace=False)
        target = out_dir / DETECTOR_FILE
        torch.jit.save(traced, str(target))
        settings = TorchNetworkSettings(name, model_type, image_size, DETECTOR_FILE)
        return {DETECTOR_FILE: target}, settings
    raise TorchRuntimeError(f"python-torch: unknown network {name!r}")


def load_network(settings: TorchNetworkSettings, directory: Path) -> Any:
    """The ``torch.nn.Module`` (eval mode, CPU) described by the settings."""
    import torch

    name, path = settings.network, directory / settings.file
    if name == tn.DETECTOR_MODEL:
        return torch.jit.load(str(path), map_location="cpu").eval()
    from loadcheck.export.sam_models import load_sam
    from loadcheck.export.sam_onnx import make_decoder_module, make_encoder_module

    sam, _ = load_sam(path, settings.model_type, settings.img_size)
    if name == tn.SAM_DECODER_MODEL:
        return make_decoder_module(sam).eval()
    if settings.fused_attention:
        use_fused_attention(sam.image_encoder)
    return make_encoder_module(sam).eval()


@dataclass(frozen=True)
class TorchNetworkSettings(StepSettings):
    """Attributes:
    network: ``detector``, ``sam_encoder``, ``sam_decoder`` or ``sam`` (both SAM networks,
        :mod:`loadcheck.pipeline.torch_sam`).
    model_type: the architecture (SAM: ``vit_b``...; the card's ``model_type``).
    img_size: the network's input side in pixels.
    file: the weights in the model's version folder (``sam.pth`` or ``model.ts``).
    fused_attention: SAM's encoder attention through ``scaled_dot_product_attention``
        (:mod:`loadcheck.pipeline.sam_attention`); ``false``: segment-anything's own.
    bf16: on a GPU, run in bfloat16 autocast (``false``: float32 throughout).
    """

    network: str = tn.SAM_ENCODER_MODEL
    model_type: str = ""
    img_size: int = 1024
    file: str = SAM_FILE
    fused_attention: bool = True
    bf16: bool = True

    def __post_init__(self) -> None:
        if self.network not in (tn.DETECTOR_MODEL, *SAM_NETWORKS):
            raise ValueError(
                f"network: expected detector, sam_encoder, sam_decoder or sam, got {self.network!r}"
            )
        if self.img_size < 1:
            raise ValueError(f"img_size: expected >= 1, got {self.img_size}")


class TorchNetworkStep(NetworkStep):
    """A network's PyTorch module (``python-torch`` runtime); bf16 autocast on a GPU."""

    kind = "torch_network"
    settings_type = TorchNetworkSettings
    settings: TorchNetworkSettings

    @classmethod
    def open(cls, settings: StepSettings, context: StepContext, folder: Path) -> Any:
        """The module, moved to the context's device."""
        assert isinstance(settings, TorchNetworkSettings)
        return load_network(settings, folder).to(torch_device(context))

    @property
    def device(self) -> Any:
        return next(self.engine.parameters()).device

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        import torch

        tensors = [
            torch.from_numpy(np.ascontiguousarray(feeds[t.name])).to(self.device)
            for t in self.inputs
        ]
        cuda = self.device.type == "cuda"
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=cuda and self.settings.bf16
            ),
        ):
            out = self.engine(*tensors)
        values = out if isinstance(out, tuple | list) else (out,)
        return {
            t.name: v.float().cpu().numpy() if v.is_floating_point() else v.cpu().numpy()
            for t, v in zip(self.outputs, values, strict=True)
        }
