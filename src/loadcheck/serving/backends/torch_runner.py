"""``python-torch`` runtime: the PyTorch network inside the Python backend (bf16 on GPU).

Same inputs/outputs as the ONNX networks (see :mod:`loadcheck.serving.torch_models`); requests
of one ``execute`` call are run one by one (K differs per request for the decoder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from loadcheck.serving.backends.common import get_input, parse_args, respond_each
from loadcheck.serving.torch_models import load_network


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        import torch

        config, params = parse_args(args)
        self.name = str(config["name"])
        self.inputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"])) for t in config["input"]
        ]
        self.outputs = [t["name"] for t in config["output"]]
        gpu = args.get("model_instance_kind") == "GPU" and torch.cuda.is_available()
        self.device = torch.device(
            f"cuda:{args.get('model_instance_device_id', 0)}" if gpu else "cpu"
        )
        directory = Path(args["model_repository"]) / args["model_version"]
        self.module = load_network(params, directory).to(self.device)

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        import torch

        feeds = [get_input(request, n, dtype) for n, dtype in self.inputs]
        if any(f.size == 0 for f in feeds):
            raise ValueError(f"{self.name}: empty input")
        tensors = [torch.from_numpy(np.ascontiguousarray(f)).to(self.device) for f in feeds]
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"
            ),
        ):
            out = self.module(*tensors)
        values = out if isinstance(out, (tuple, list)) else (out,)
        return {n: v.float().cpu().numpy() for n, v in zip(self.outputs, values, strict=True)}

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, self.name)
