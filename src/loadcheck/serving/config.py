"""Typed Triton model configurations rendered to ``config.pbtxt`` through protobuf text format.

Dataclass -> dict -> ``json_format.ParseDict(..., ModelConfig())`` -> ``text_format``, as in
pytriton's generator: protobuf validates every field name and enum value, and no configuration is
ever produced from a string template. Triton's quirks are handled in :func:`render_config` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from loadcheck.pipeline.tensors import TensorSpec


class Device(StrEnum):
    """Where a model's instances run (``--device``)."""

    CPU = "cpu"
    GPU = "gpu"

    @property
    def kind(self) -> str:
        return "KIND_GPU" if self is Device.GPU else "KIND_CPU"


@dataclass(frozen=True)
class InstanceGroup:
    """``count`` instances on ``device`` (one group per model)."""

    count: int = 1
    device: Device = Device.CPU

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"instance count: expected >= 1, got {self.count}")

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "kind": self.device.kind}


@dataclass(frozen=True)
class DynamicBatching:
    """Triton's dynamic batcher; the queue delay is in microseconds (0: a batch is whatever
    requests are queued when an instance frees, no waiting for more)."""

    max_queue_delay_us: int = 2000
    preferred_batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.max_queue_delay_us < 0:
            raise ValueError(f"queue delay: expected >= 0 us, got {self.max_queue_delay_us}")
        if any(size < 1 for size in self.preferred_batch_sizes):
            raise ValueError(
                f"preferred batch sizes: expected sizes >= 1, got {self.preferred_batch_sizes}"
            )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_queue_delay_microseconds": self.max_queue_delay_us}
        if self.preferred_batch_sizes:
            out["preferred_batch_size"] = list(self.preferred_batch_sizes)
        return out


@dataclass(frozen=True)
class Warmup:
    """A ``model_warmup`` sample: Triton runs it (zeros in every input) when it loads the model,
    before the model is marked ready, so the first client request does not pay for CUDA
    kernel selection and memory pools. ``-1`` dimensions of the inputs are taken as 1.

    Attributes:
        name: the sample's name in Triton's log.
        batch_size: requests' batch (1 for a model without batching).
        iterations: extra runs of the sample (0: once).
    """

    name: str
    batch_size: int = 1
    iterations: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.iterations < 0:
            raise ValueError(
                f"warm-up {self.name!r}: expected batch_size >= 1 and iterations >= 0, got "
                f"{self.batch_size} and {self.iterations}"
            )

    def to_dict(self, inputs: Sequence[TensorSpec], batching: bool) -> dict[str, Any]:
        tensors = {}
        for tensor in inputs:
            dims = tensor.shape[1:] if batching else tensor.shape
            tensors[tensor.name] = {
                "data_type": tensor.triton_type,
                "dims": [max(d, 1) for d in dims],
                "zero_data": True,
            }
        out: dict[str, Any] = {"name": self.name, "batch_size": self.batch_size, "inputs": tensors}
        if self.iterations:
            out["count"] = self.iterations
        return out


@dataclass(frozen=True)
class EnsembleStep:
    """One ensemble step: ``input_map`` maps model tensor -> ensemble tensor (same for outputs)."""

    model_name: str
    input_map: Mapping[str, str]
    output_map: Mapping[str, str]
    model_version: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "input_map": dict(self.input_map),
            "output_map": dict(self.output_map),
        }


@dataclass(frozen=True)
class ModelConfig:
    """A Triton model configuration.

    Exactly one of ``backend`` / ``platform`` is set (``platform="ensemble"`` for ensembles).
    ``inputs`` / ``outputs`` have full shapes; with ``max_batch_size > 0`` their first (batch)
    dimension is left out of the config's ``dims``, as Triton expects.
    ``parameters`` become ``parameters { key: ... value { string_value: ... } }``.
    """

    name: str
    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    backend: str | None = None
    platform: str | None = None
    max_batch_size: int = 0
    instance_group: InstanceGroup | None = None
    dynamic_batching: DynamicBatching | None = None
    ensemble_steps: Sequence[EnsembleStep] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    default_model_filename: str | None = None
    versions: tuple[int, ...] = ()  # serve exactly these versions (default: the latest one)
    warmup: tuple[Warmup, ...] = ()
    cuda_graphs: bool = False  # optimization.cuda.graphs: TensorRT plans only

    def __post_init__(self) -> None:
        if (self.backend is None) == (self.platform is None):
            raise ValueError(f"model {self.name}: set exactly one of backend and platform")
        if self.max_batch_size < 0:
            raise ValueError(f"model {self.name}: max_batch_size must be >= 0")
        if self.dynamic_batching is not None and self.max_batch_size == 0:
            raise ValueError(f"model {self.name}: dynamic batching needs max_batch_size >= 1")
        if self.is_ensemble and not self.ensemble_steps:
            raise ValueError(f"ensemble {self.name}: needs at least one step")
        if self.cuda_graphs and self.platform != "tensorrt_plan":
            raise ValueError(
                f"model {self.name}: CUDA graphs in the config are a TensorRT-plan setting; "
                f"Triton's {self.backend or self.platform} ignores them"
            )
        for sample in self.warmup:
            if self.is_ensemble or sample.batch_size > max(self.max_batch_size, 1):
                raise ValueError(
                    f"model {self.name}: warm-up {sample.name!r} needs a non-ensemble model "
                    f"with max_batch_size >= its batch {sample.batch_size}"
                )

    @property
    def is_ensemble(self) -> bool:
        return self.platform == "ensemble"

    def _tensor(self, tensor: TensorSpec, *, is_input: bool) -> dict[str, Any]:
        dims = tensor.shape[1:] if self.max_batch_size > 0 else tensor.shape
        out: dict[str, Any] = {
            "name": tensor.name,
            "data_type": tensor.triton_type,
            "dims": list(dims),
        }
        if is_input and tensor.optional:
            out["optional"] = True
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "max_batch_size": self.max_batch_size}
        if self.backend is not None:
            out["backend"] = self.backend
        if self.platform is not None:
            out["platform"] = self.platform
        if self.default_model_filename:
            out["default_model_filename"] = self.default_model_filename
        if self.versions:
            out["version_policy"] = {"specific": {"versions": list(self.versions)}}
        out["input"] = [self._tensor(t, is_input=True) for t in self.inputs]
        out["output"] = [self._tensor(t, is_input=False) for t in self.outputs]
        if self.instance_group is not None and not self.is_ensemble:
            out["instance_group"] = [self.instance_group.to_dict()]
        if self.dynamic_batching is not None:
            out["dynamic_batching"] = self.dynamic_batching.to_dict()
        if self.ensemble_steps:
            out["ensemble_scheduling"] = {"step": [s.to_dict() for s in self.ensemble_steps]}
        if self.parameters:
            out["parameters"] = {k: {"string_value": str(v)} for k, v in self.parameters.items()}
        if self.cuda_graphs:
            out["optimization"] = {"cuda": {"graphs": True}}
        if self.warmup:
            batching = self.max_batch_size > 0
            out["model_warmup"] = [w.to_dict(self.inputs, batching) for w in self.warmup]
        return out


def render_config(config: ModelConfig) -> str:
    """``config.pbtxt`` text for ``config``, validated by protobuf.

    Quirk handled here (and only here): protobuf omits scalar defaults, but Triton reads a missing
    ``max_batch_size`` as "let me auto-complete it", so ``max_batch_size: 0`` is written explicitly.
    """
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    message = json_format.ParseDict(config.to_dict(), model_config_pb2.ModelConfig())
    text = str(text_format.MessageToString(message))
    if config.max_batch_size == 0:
        lines = text.splitlines(keepends=True)
        text = "".join([*lines[:1], "max_batch_size: 0\n", *lines[1:]])
    return text


def parse_config(text: str) -> dict[str, Any]:
    """Parse ``config.pbtxt`` text into a JSON-style dict (field names as in the proto)."""
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    message = text_format.Parse(text, model_config_pb2.ModelConfig())
    return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))
