"""One ONNX network in ONNX Runtime (for the Python-backend runner and the in-process pipeline)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

LOGGER = logging.getLogger(__name__)

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(uint8)": np.uint8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(float16)": np.float16,
    "tensor(bool)": np.bool_,
}


class OnnxNetwork:
    """An ONNX Runtime session with input checks that produce readable errors.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (0 = ONNX Runtime's default).
        use_gpu: prefer the CUDA execution provider when ONNX Runtime has it.
    """

    def __init__(self, path: Path, *, threads: int = 0, use_gpu: bool = False) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if use_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.input_types = {i.name: _ORT_TYPES.get(i.type) for i in self.session.get_inputs()}
        self.input_ranks = {i.name: len(i.shape) for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run the network; raises ``ValueError`` naming the input on a dtype or rank mismatch."""
        for name, expected in self.input_types.items():
            if name not in feeds:
                raise ValueError(f"input {name!r}: missing")
            value = feeds[name]
            if expected is not None and value.dtype != np.dtype(expected):
                raise ValueError(
                    f"input {name!r}: expected dtype {np.dtype(expected)}, got {value.dtype}"
                )
            if value.ndim != self.input_ranks[name]:
                raise ValueError(
                    f"input {name!r}: expected {self.input_ranks[name]} dimensions, "
                    f"got shape {value.shape}"
                )
        names = list(outputs) if outputs is not None else self.output_names
        try:
            result = self.session.run(names, {k: feeds[k] for k in self.input_types})
        except Exception as exc:  # ONNX Runtime raises its own exception types
            raise ValueError(f"{self.path.name}: ONNX Runtime failed: {exc}") from exc
        return dict(zip(names, result, strict=True))
