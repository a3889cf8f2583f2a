"""int8 weights for an exported network: ONNX Runtime's dynamic quantisation of the MatMuls.

``quantize_int8(onnx_file, out_file)`` quantises every MatMul/Gemm weight to int8 per channel
(activations are quantised per call, so no calibration data is needed) and checks the result
with ``onnx.checker``. Measured on the 2-core Xeon VM (AVX-512 VNNI, AMX): the SAM ViT-B encoder
at 512 px 1.04 s -> 0.49 s per image (docs/serving.md). Only what the card records as ``int8``
is served as such; the verdicts of the demo models with and without it are compared scene by
scene in docs/quality.md.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.export.onnx_utils import ExportError

logger = logging.getLogger(__name__)
#: The operators whose weights are quantised (attention scores, softmax, norms stay fp32).
QUANTIZED_OPS: tuple[str, ...] = ("MatMul", "Gemm")


def quantize_int8(
    onnx_file: Path, out_file: Path, *, external_data: bool = False
) -> dict[str, Any]:
    """Write ``onnx_file`` with int8 MatMul/Gemm weights to ``out_file``; returns what the card's
    ``extra["quantization"]`` records.

    Raises:
        ExportError: ONNX Runtime cannot quantise the graph.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # onnxruntime.quantization logs a line per tensor on the root logger at INFO (hundreds for
    # an encoder) and a generic advice to pre-process at WARNING; its failures raise. Silence
    # both while it runs.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(onnx_file),
            str(out_file),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=list(QUANTIZED_OPS),
            use_external_data_format=external_data,
        )
    except Exception as exc:  # onnxruntime.quantization raises plain exceptions
        raise ExportError(f"int8 quantisation of {onnx_file.name} failed: {exc}") from exc
    finally:
        logging.disable(previous)
    return {
        "method": "onnxruntime dynamic",
        "weights": "int8 per channel",
        "op_types": list(QUANTIZED_OPS),
    }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays, flattened (1.0: same direction)."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30))


def quantize_in_place(path: Path, *, external_data: bool = False) -> dict[str, Any]:
    """Replace ``path`` by its int8 version (the fp32 file goes through a temporary copy)."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / path.name
        path.replace(fp32)
        data = path.with_name(path.name + ".data")
        if data.exists():
            data.replace(Path(tmp) / data.name)
        try:
            return quantize_int8(fp32, path, external_data=external_data)
        except ExportError:
            fp32.replace(path)
            raise
