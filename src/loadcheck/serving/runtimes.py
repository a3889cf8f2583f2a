"""Per-network runtimes: a registry from runtime name to the config + files it needs.

* ``python-onnxruntime`` (default): Triton's Python backend running ONNX Runtime
  (:mod:`loadcheck.serving.backends.onnx_runner`); works with the CPU server in the
  ``nvidia-pytriton`` wheel.
* ``onnxruntime``: Triton's native ONNX Runtime backend (``platform: onnxruntime_onnx``).
* ``python-torch``: the exporters' PyTorch modules in the Python backend (bf16 on GPU), see
  :mod:`loadcheck.serving.torch_models`; needs the source checkpoints beside the exports.
* ``tensorrt``: a TensorRT plan (``platform: tensorrt_plan``), built from the ONNX file on the GPU
  host with ``trtexec`` (the builder copies the ONNX and writes the command beside it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loadcheck.serving.config import (
    DataType,
    DynamicBatching,
    InstanceGroup,
    ModelConfig,
    TensorSpec,
)

_DTYPES = {
    "uint8": DataType.UINT8,
    "float32": DataType.FP32,
    "float16": DataType.FP16,
    "int32": DataType.INT32,
    "int64": DataType.INT64,
    "bool": DataType.BOOL,
}


def triton_dtype(numpy_name: str) -> DataType:
    try:
        return _DTYPES[numpy_name]
    except KeyError:
        raise ValueError(
            f"dtype {numpy_name!r} has no Triton type; known: {list(_DTYPES)}"
        ) from None


@dataclass(frozen=True)
class NetworkSpec:
    """An exported network as the builder needs it (from the model card).

    ``inputs``/``outputs`` are ``(name, numpy dtype name, full shape with the batch axis first
    when ``batch_axis``)``; ``-1`` marks a dynamic dimension.
    """

    name: str
    source: Path
    inputs: Sequence[tuple[str, str, tuple[int, ...]]]
    outputs: Sequence[tuple[str, str, tuple[int, ...]]]
    batch_axis: bool
    checkpoint: Path | None = None  # what the ONNX file was exported from (python-torch)
    model_type: str = ""
    image_size: int = 0
    plan: Path | None = None  # a TensorRT plan built from ``source`` (tensorrt runtime)


@dataclass(frozen=True)
class NetworkPlacement:
    """How one network is served: max batch (0 = no batching), queue delay, instances."""

    max_batch_size: int
    queue_delay_us: int
    instances: InstanceGroup
    intra_op_threads: int = 0


@dataclass(frozen=True)
class RuntimeOutput:
    """A model's config plus ``files``: target name in the version folder -> source path."""

    config: ModelConfig
    files: dict[str, Path]
    model_py: str | None = None
    notes: str | None = None
    staging: Path | None = None  # a temporary folder of prepared files, removed after writing


def _tensors(
    specs: Sequence[tuple[str, str, tuple[int, ...]]], strip_batch: bool
) -> list[TensorSpec]:
    return [
        TensorSpec(name, triton_dtype(dtype), tuple(shape[1:] if strip_batch else shape))
        for name, dtype, shape in specs
    ]


def _common(net: NetworkSpec, place: NetworkPlacement) -> dict[str, object]:
    batching = net.batch_axis and place.max_batch_size > 0
    return {
        "name": net.name,
        "inputs": _tensors(net.inputs, batching),
        "outputs": _tensors(net.outputs, batching),
        "max_batch_size": place.max_batch_size if batching else 0,
        "instance_group": place.instances,
        "dynamic_batching": DynamicBatching(place.queue_delay_us) if batching else None,
    }


def python_onnxruntime(net: NetworkSpec, place: NetworkPlacement) -> RuntimeOutput:
    config = ModelConfig(
        backend="python",
        parameters={"onnx_file": "model.onnx", "intra_op_threads": str(place.intra_op_threads)},
        **_common(net, place),  # type: ignore[arg-type]
    )
    return RuntimeOutput(
        config, {"model.onnx": net.source}, model_py="loadcheck.serving.backends.onnx_runner"
    )


def onnxruntime_native(net: NetworkSpec, place: NetworkPlacement) -> RuntimeOutput:
    config = ModelConfig(
        platform="onnxruntime_onnx",
        default_model_filename="model.onnx",
        **_common(net, place),  # type: ignore[arg-type]
    )
    return RuntimeOutput(config, {"model.onnx": net.source})


def tensorrt_plan(net: NetworkSpec, place: NetworkPlacement) -> RuntimeOutput:
    config = ModelConfig(
        platform="tensorrt_plan",
        default_model_filename="model.plan",
        **_common(net, place),  # type: ignore[arg-type]
    )
    plan = net.plan if net.plan is not None else net.source.with_suffix(".plan")
    if plan.is_file():
        return RuntimeOutput(config, {"model.plan": plan})
    note = (
        f"{net.name}: no TensorRT plan in the export folder; on the GPU host run `loadcheck "
        f"export tensorrt` on {net.source.name} (or trtexec --onnx=model.onnx "
        f"--saveEngine=model.plan in {net.name}/1/) before loading"
    )
    return RuntimeOutput(config, {"model.onnx": net.source}, notes=note)


def python_torch(net: NetworkSpec, place: NetworkPlacement) -> RuntimeOutput:
    import tempfile

    from loadcheck.serving.torch_models import prepare_network

    if net.checkpoint is None:
        raise ValueError(f"{net.name}: python-torch needs the checkpoint the model came from")
    staging = Path(tempfile.mkdtemp(prefix=f"loadcheck-torch-{net.name}-"))
    files, params = prepare_network(
        net.name, net.checkpoint, net.model_type, net.image_size, staging
    )
    config = ModelConfig(backend="python", parameters=params, **_common(net, place))  # type: ignore[arg-type]
    return RuntimeOutput(
        config, files, model_py="loadcheck.serving.backends.torch_runner", staging=staging
    )


RuntimeBuilder = Callable[[NetworkSpec, NetworkPlacement], RuntimeOutput]

RUNTIMES: dict[str, RuntimeBuilder] = {
    "python-onnxruntime": python_onnxruntime,
    "onnxruntime": onnxruntime_native,
    "tensorrt": tensorrt_plan,
    "python-torch": python_torch,
}
RUNTIME_NAMES: tuple[str, ...] = tuple(RUNTIMES)
DEFAULT_RUNTIME = "python-onnxruntime"
