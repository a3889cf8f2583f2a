"""``python-onnxruntime`` runtime: an ONNX network run by ONNX Runtime inside the Python backend.

Used for ``detector``, ``sam_encoder`` and ``sam_decoder`` where Triton's native ONNX Runtime
backend is not available (the CPU server inside the ``nvidia-pytriton`` wheel). With dynamic
batching the requests of one ``execute`` call are concatenated and run as one batch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from loadcheck.serving.backends.common import (
    RequestError,
    error_response,
    get_input,
    make_response,
    parse_args,
)
from loadcheck.serving.onnx_session import OnnxNetwork

LOGGER = logging.getLogger(__name__)


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config, params = parse_args(args)
        self.name = str(config["name"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.inputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"])) for t in config["input"]
        ]
        self.outputs = [t["name"] for t in config["output"]]
        # Zero-size outputs for an empty request (K = 0 boxes): the config dims with -1 -> 0.
        self.empty_shapes = {
            t["name"]: tuple(max(int(d), 0) for d in t["dims"]) for t in config["output"]
        }
        self.empty_dtypes = {
            t["name"]: pb_utils.triton_string_to_numpy(t["data_type"]) for t in config["output"]
        }
        path = Path(args["model_repository"]) / args["model_version"] / params["onnx_file"]
        use_gpu = args.get("model_instance_kind") == "GPU"
        self.network = OnnxNetwork(
            path, threads=int(params.get("intra_op_threads", "0")), use_gpu=use_gpu
        )

    def _feeds(self, request: Any) -> dict[str, np.ndarray]:
        return {name: get_input(request, name, dtype) for name, dtype in self.inputs}

    def execute(self, requests: list[Any]) -> list[Any]:
        feeds: list[dict[str, np.ndarray] | None] = []
        responses: list[Any] = [None] * len(requests)
        for i, request in enumerate(requests):
            try:
                feeds.append(self._feeds(request))
            except RequestError as exc:
                feeds.append(None)
                responses[i] = error_response(f"{self.name}: {exc}")
        good = [i for i, f in enumerate(feeds) if f is not None]
        if self.batching and len(good) > 1:
            try:
                batch = {n: np.concatenate([feeds[i][n] for i in good]) for n, _ in self.inputs}  # type: ignore[index]
                out = self.network.run(batch, self.outputs)
                sizes = np.cumsum([len(feeds[i][self.inputs[0][0]]) for i in good])[:-1]  # type: ignore[index]
                parts = {n: np.split(v, sizes) for n, v in out.items()}
                for j, i in enumerate(good):
                    responses[i] = make_response({n: parts[n][j] for n in self.outputs})
                return responses
            except (ValueError, RuntimeError) as exc:
                LOGGER.warning(
                    "%s: batched run failed (%s); running requests one by one", self.name, exc
                )
        for i in good:
            if any(v.size == 0 for v in feeds[i].values()):  # type: ignore[union-attr]
                responses[i] = make_response(
                    {n: np.zeros(self.empty_shapes[n], self.empty_dtypes[n]) for n in self.outputs}
                )
                continue
            try:
                responses[i] = make_response(self.network.run(feeds[i], self.outputs))  # type: ignore[arg-type]
            except (ValueError, RuntimeError) as exc:
                responses[i] = error_response(f"{self.name}: {exc}")
        return responses
