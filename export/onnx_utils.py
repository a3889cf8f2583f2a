"""ONNX helpers shared by the exporters: saving, checking, smoke runs, fp16, provenance.

Every exporter ends with :func:`verify_onnx`: ``onnx.checker`` on the saved file plus an ONNX
Runtime run on the given inputs. Any failure raises :class:`ExportError`; nothing is logged and
skipped.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from loadcheck.pipeline.cards import TensorSpec

if TYPE_CHECKING:
    import onnx
    import torch

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# protobuf refuses messages >= 2 GiB; keep a margin for the graph itself.
EXTERNAL_DATA_THRESHOLD_BYTES = 1_800_000_000
_VERSIONED_PACKAGES = (
    "loadcheck",
    "torch",
    "onnx",
    "onnxruntime",
    "segment-anything",
    "yolov6detect",
    "numpy",
)
_ONNX_TO_NUMPY = {
    1: "float32",
    2: "uint8",
    3: "int8",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
}


class ExportError(RuntimeError):
    """An export failed: bad input, a failed check or a failed smoke run."""


def library_versions(packages: Sequence[str] = _VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"absent"`` when it is not installed)."""
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def utc_now() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a Path; :class:`ExportError` when it is not an existing file."""
    file = Path(path)
    if not file.is_file():
        raise ExportError(f"{what} not found: {file} (expected an existing file)")
    return file


def save_onnx(model: onnx.ModelProto, path: Path, *, force_external: bool = False) -> bool:
    """Save ``model``; weights go to ``<name>.data`` beside it when it would exceed protobuf's
    2 GiB limit (or ``force_external``). Returns whether external data was used."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    data_file = path.with_name(path.name + ".data")
    data_file.unlink(missing_ok=True)
    external = force_external or _byte_size(model) > EXTERNAL_DATA_THRESHOLD_BYTES
    if external:
        logger.info("%s: saving weights as external data in %s", path.name, data_file.name)
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_file.name,
            size_threshold=1024,
        )
    else:
        onnx.save_model(model, str(path))
    return external


def torch_to_onnx(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    *,
    fp16: bool,
    opset: int = DEFAULT_OPSET,
    output_shapes: Mapping[str, Sequence[int | str]] | None = None,
) -> tuple[onnx.ModelProto, bool]:
    """Export ``module`` with the TorchScript exporter (``dynamo=False``), optionally convert to
    fp16, and save it to ``path`` (external data above ~1.8 GB of weights).

    Returns the in-memory model and whether external data was used. The export goes through a
    temporary folder beside ``path`` so that models above protobuf's 2 GiB limit work.
    """
    import onnx
    import torch

    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    if fp16:
        param_bytes //= 2
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        tmp_path = Path(tmp) / path.name
        try:
            # The tracer warns about Python control flow on shapes (segment-anything's padding
            # checks, YOLOv6's anchors): the shapes are fixed at export, so these are expected,
            # as is the notice that the TorchScript exporter is the legacy one.
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                warnings.filterwarnings("ignore", "You are using the legacy TorchScript")
                warnings.filterwarnings("ignore", "The feature will be removed")
                torch.onnx.export(
                    module,
                    args,
                    str(tmp_path),
                    input_names=list(input_names),
                    output_names=list(output_names),
                    dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        except Exception as exc:  # torch.onnx raises many error types
            raise ExportError(f"torch.onnx.export of {path.name} failed: {exc}") from exc
        model = onnx.load(str(tmp_path))  # pulls in external data when torch wrote any
    for name, dims in (output_shapes or {}).items():
        set_output_shape(model, name, dims)
    if fp16:
        model = to_fp16(model)
    external = save_onnx(model, path, force_external=param_bytes > EXTERNAL_DATA_THRESHOLD_BYTES)
    return model, external


def set_output_shape(model: onnx.ModelProto, name: str, dims: Sequence[int | str]) -> None:
    """Declare the shape of graph output ``name`` (ints static, strings symbolic), where the
    exporter's shape inference left dims unknown."""
    for output in model.graph.output:
        if output.name == name:
            shape = output.type.tensor_type.shape
            del shape.dim[:]
            for dim in dims:
                entry = shape.dim.add()
                if isinstance(dim, int):
                    entry.dim_value = dim
                else:
                    entry.dim_param = dim
            return
    raise ExportError(f"the graph has no output {name!r}")


def _byte_size(model: onnx.ModelProto) -> int:
    try:
        return int(model.ByteSize())
    except (ValueError, OverflowError):  # protobuf refuses to size messages >= 2 GiB
        return EXTERNAL_DATA_THRESHOLD_BYTES + 1


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """fp16 weights and compute, keeping the float32/uint8 input and output types of the
    contract (casts are inserted at the graph boundary)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(model, keep_io_types=True)
    topological_sort(converted.graph)
    return converted


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder ``graph.node`` in place so every node comes after the producers of its inputs
    (the fp16 converter appends its boundary casts at the end)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        progressed = False
        remaining = []
        for node in pending:
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
                progressed = True
            else:
                remaining.append(node)
        if not progressed:
            missing = sorted({n for node in remaining for n in node.input} - available)
            raise ExportError(f"graph has a cycle or undefined inputs: {missing[:5]}")
        pending = remaining
    del graph.node[:]
    graph.node.extend(ordered)


def tensor_specs(
    model: onnx.ModelProto, dim_names: Mapping[str, Sequence[str]], *, outputs: bool
) -> tuple[TensorSpec, ...]:
    """Card tensor specs read from the graph's inputs or outputs.

    Args:
        model: the ONNX model.
        dim_names: tensor name -> one symbolic name per dimension.
        outputs: read outputs (True) or inputs (False).
    """
    values = model.graph.output if outputs else model.graph.input
    initializers = {init.name for init in model.graph.initializer}
    specs = []
    for value in values:
        if value.name in initializers:
            continue
        ttype = value.type.tensor_type
        dtype = _ONNX_TO_NUMPY.get(ttype.elem_type)
        if dtype is None:
            raise ExportError(f"tensor {value.name!r} has unsupported ONNX type {ttype.elem_type}")
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in ttype.shape.dim)
        names = dim_names.get(value.name)
        if names is None:
            raise ExportError(f"no dimension names for tensor {value.name!r}")
        if len(names) != len(shape):
            raise ExportError(
                f"tensor {value.name!r} has rank {len(shape)} in the graph but the exporter "
                f"expects {len(names)} dims {list(names)}"
            )
        specs.append(TensorSpec(value.name, dtype, shape, tuple(names)))
    return tuple(specs)


def verify_onnx(
    path: Path,
    feeds: Mapping[str, np.ndarray],
    expected_outputs: Sequence[str],
    *,
    run: bool = True,
) -> dict[str, np.ndarray]:
    """``onnx.checker`` on the saved file, then (when ``run``) one ONNX Runtime CPU run.

    Returns the outputs by name. Raises :class:`ExportError` on any failure, including outputs
    that are missing or contain NaN/inf.
    """
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=False)
    except (onnx.checker.ValidationError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:
        raise ExportError(f"onnx.checker rejected {path}: {exc}") from exc
    if not run:
        return {}
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = session.run(None, dict(feeds))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ExportError(f"ONNX Runtime smoke run of {path.name} failed: {exc}") from exc
    result = dict(zip(names, values, strict=True))
    missing = [n for n in expected_outputs if n not in result]
    if missing:
        raise ExportError(f"{path.name}: outputs {missing} missing; graph has {names}")
    for name, value in result.items():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise ExportError(f"{path.name}: output {name!r} contains NaN or inf in the smoke run")
    logger.info("%s: onnx.checker and ONNX Runtime smoke run passed", path.name)
    return result


def opset_of(model: onnx.ModelProto) -> int:
    """The default-domain opset version of ``model``."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise ExportError("model has no default-domain opset import")
