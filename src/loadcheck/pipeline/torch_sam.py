"""``sam``: SAM's encoder and decoder as one ``python-torch`` step (``fuse_sam``).

With two models the image embeddings (float32 [1, 256, S/16, S/16], 4 MB at S = 1024) leave
the GPU after the encoder, cross Triton's shared memory, and go back to the GPU for the decoder.
:class:`TorchSamStep` keeps them on the device: it takes the encoder's input and the decoder's
prompt inputs, runs the encoder on every image of the requests Triton hands it (one batch), then
the decoder on each image's K prompts, and returns the decoder's outputs (what the ``masks``
step consumes). Tensors: ``image`` uint8 [1, S, S, 3], ``boxes_xyxy`` float32 [K, 4],
``point_coords`` float32 [K, 1, 2], ``point_labels`` float32 [K, 1] in; ``low_res_masks``
float32 [K, 1, S/4, S/4] and ``iou_predictions`` float32 [K, 1] out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.step import Arrays, StepContext
from loadcheck.pipeline.torch_networks import (
    TorchNetworkSettings,
    TorchNetworkStep,
    load_network,
)

#: The decoder's prompt inputs, in the order its module takes them after the embeddings.
PROMPT_INPUTS = (tn.SAM_DECODER_BOXES, tn.SAM_DECODER_POINT_COORDS, tn.SAM_DECODER_POINT_LABELS)


class TorchSamStep(TorchNetworkStep):
    """Encoder + decoder in one model; the embeddings stay on the device (module docstring)."""

    kind = "torch_sam"
    settings_type = TorchNetworkSettings
    settings: TorchNetworkSettings

    @classmethod
    def open(cls, settings: StepSettings, context: StepContext, folder: Path) -> Any:
        """``ModuleDict(encoder=..., decoder=...)`` on the context's device."""
        import torch

        from loadcheck.pipeline.networks import torch_device

        assert isinstance(settings, TorchNetworkSettings)
        device = torch_device(context)
        modules = {
            "encoder": load_network(_as(settings, tn.SAM_ENCODER_MODEL), folder),
            "decoder": load_network(_as(settings, tn.SAM_DECODER_MODEL), folder),
        }
        return torch.nn.ModuleDict(modules).to(device).eval()

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        return self._segment([feeds])[0]

    def run_batch(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[Arrays]:
        """The images of all requests through the encoder as one batch, then each image's
        prompts through the decoder; a request without prompts gets empty outputs."""
        if len(requests) < 2:
            return super().run_batch(requests)
        checked = [self.check(r) for r in requests]
        busy = [i for i, c in enumerate(checked) if all(v.size for v in c.values())]
        results: list[Arrays] = [self.empty_outputs() for _ in checked]
        for i, out in zip(busy, self._segment([checked[i] for i in busy]), strict=True):
            results[i] = out
        return results

    def _segment(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[Arrays]:
        import torch

        if not requests:
            return []
        device = self.device
        images = np.concatenate([r[tn.SAM_ENCODER_INPUT] for r in requests])
        sizes = [len(r[tn.SAM_ENCODER_INPUT]) for r in requests]
        if any(n != 1 for n in sizes):
            from loadcheck.pipeline.step import StepInputError

            raise StepInputError(
                f"input {tn.SAM_ENCODER_INPUT!r}: expected one image per request, got {sizes}"
            )
        cuda = device.type == "cuda" and self.settings.bf16
        results = []
        with (
            torch.inference_mode(),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda),
        ):
            embeddings = self.engine["encoder"](torch.from_numpy(images).to(device))
            for i, request in enumerate(requests):
                prompts = [
                    torch.from_numpy(np.ascontiguousarray(request[name])).to(device)
                    for name in PROMPT_INPUTS
                ]
                values = self.engine["decoder"](embeddings[i : i + 1], *prompts)
                results.append(
                    {
                        t.name: v.float().cpu().numpy()
                        for t, v in zip(self.outputs, values, strict=True)
                    }
                )
        return results


def _as(settings: TorchNetworkSettings, network: str) -> TorchNetworkSettings:
    from dataclasses import replace

    return replace(settings, network=network)
