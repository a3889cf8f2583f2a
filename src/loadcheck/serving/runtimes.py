"""How a network is served: a registry from runtime to the config + files it needs.

* ``python-onnxruntime`` (default): the adapter running the ONNX file in ONNX Runtime
  (:class:`~loadcheck.pipeline.networks.OnnxNetworkStep`); works with the CPU server in the
  ``nvidia-pytriton`` wheel;
* ``onnxruntime``: Triton's native ONNX Runtime backend (``platform: onnxruntime_onnx``);
* ``python-torch``: the adapter running the exporters' PyTorch modules, bf16 on a GPU
  (:class:`~loadcheck.pipeline.torch_networks.TorchNetworkStep`); needs the source
  checkpoints beside the exports; the only runtime that serves ``sam`` (``fuse_sam``: SAM's
  encoder and decoder as one model, :class:`~loadcheck.pipeline.torch_sam.TorchSamStep`);
* ``tensorrt``: a TensorRT plan (``platform: tensorrt_plan``) built by ``loadcheck export
  tensorrt`` on the GPU host; refused when the export folder has no plan, or when the plan's
  profile cannot take what the settings ask (``--max-det`` boxes, the batch size).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import ModelCard
from loadcheck.pipeline.declaration import FusedSamStage, NetworkStage
from loadcheck.pipeline.networks import OnnxNetworkSettings, OnnxNetworkStep
from loadcheck.pipeline.torch_networks import TorchNetworkStep, find_checkpoint, prepare_network
from loadcheck.pipeline.torch_sam import TorchSamStep
from loadcheck.serving.config import DynamicBatching, InstanceGroup, ModelConfig, Warmup
from loadcheck.serving.layout import step_parameters


class Runtime(StrEnum):
    """Where a network runs inside Triton (``--runtime``)."""

    PYTHON_ONNXRUNTIME = "python-onnxruntime"
    ONNXRUNTIME = "onnxruntime"
    TENSORRT = "tensorrt"
    PYTHON_TORCH = "python-torch"


DEFAULT_RUNTIME = Runtime.PYTHON_ONNXRUNTIME


#: What a runtime serves: one network, or SAM's two as one model (``python-torch`` only).
Network = NetworkStage | FusedSamStage


class RuntimeSettingsError(ValueError):
    """A runtime cannot serve a network with the given files or settings; says why."""


@dataclass(frozen=True)
class NetworkPlacement:
    """How one network is served.

    Attributes:
        max_batch_size: Triton's dynamic batching limit (0: no batching).
        queue_delay_us: the batcher's queue delay in microseconds.
        instances: instances and their device.
        intra_op_threads: ONNX Runtime threads per ``python-onnxruntime`` instance (0: default).
        max_boxes: the most SAM prompts one request may carry (the decoder's ``--max-det``).
        preferred_batch_sizes: batches the batcher forms without waiting out the delay.
        warmup: Triton runs zeros through the model at load (batch 1, and the max batch).
        cuda_graphs: ``optimization.cuda.graphs`` (TensorRT plans; refused by the others).
        fused_attention: ``python-torch``: SAM's encoder attention through PyTorch's SDPA.
        bf16: ``python-torch`` on a GPU: bfloat16 autocast (off: float32).
    """

    max_batch_size: int
    queue_delay_us: int
    instances: InstanceGroup
    intra_op_threads: int = 0
    max_boxes: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()
    warmup: bool = False
    cuda_graphs: bool = False
    fused_attention: bool = True
    bf16: bool = True


@dataclass(frozen=True)
class RuntimeOutput:
    """A model's config plus ``files``: target name in the version folder -> source path."""

    config: ModelConfig
    files: dict[str, Path]
    staging: Path | None = None  # a temporary folder of prepared files, removed after writing
    notes: tuple[str, ...] = field(default_factory=tuple)


def _batching(stage: Network, place: NetworkPlacement) -> bool:
    return bool(stage.inputs) and stage.inputs[0].has_batch_axis and place.max_batch_size > 0


def _common(stage: Network, place: NetworkPlacement) -> dict[str, object]:
    batching = _batching(stage, place)
    if place.cuda_graphs:
        raise RuntimeSettingsError(
            f"{stage.name}: CUDA graphs in the config are for TensorRT plans (--runtime "
            "tensorrt); Triton's Python and ONNX Runtime backends ignore them"
        )
    preferred = tuple(n for n in place.preferred_batch_sizes if n <= place.max_batch_size)
    if batching and preferred != place.preferred_batch_sizes:
        raise RuntimeSettingsError(
            f"{stage.name}: preferred batch sizes {list(place.preferred_batch_sizes)} must not "
            f"exceed the max batch {place.max_batch_size}"
        )
    warmup: tuple[Warmup, ...] = ()
    if place.warmup:
        warmup = (Warmup("batch_1"),)
        if batching and place.max_batch_size > 1:
            warmup += (Warmup(f"batch_{place.max_batch_size}", place.max_batch_size),)
    return {
        "inputs": stage.inputs,
        "outputs": stage.outputs,
        "max_batch_size": place.max_batch_size if batching else 0,
        "instance_group": place.instances,
        "dynamic_batching": (
            DynamicBatching(place.queue_delay_us, preferred if batching else ())
            if batching
            else None
        ),
        "warmup": warmup,
    }


def python_onnxruntime(
    stage: NetworkStage, place: NetworkPlacement, plan: ModelCard | None = None
) -> RuntimeOutput:
    settings = OnnxNetworkSettings("model.onnx", place.intra_op_threads)
    config = ModelConfig(
        name=stage.name,
        backend="python",
        parameters=step_parameters(OnnxNetworkStep.kind, settings),
        **_common(stage, place),  # type: ignore[arg-type]
    )
    return RuntimeOutput(config, {"model.onnx": stage.path})


def onnxruntime_native(
    stage: NetworkStage, place: NetworkPlacement, plan: ModelCard | None = None
) -> RuntimeOutput:
    config = ModelConfig(
        name=stage.name,
        platform="onnxruntime_onnx",
        default_model_filename="model.onnx",
        **_common(stage, place),  # type: ignore[arg-type]
    )
    return RuntimeOutput(config, {"model.onnx": stage.path})


def _profile_max(plan: ModelCard, tensor: str, axis: int) -> int | None:
    for profile in plan.extra.get("tensorrt_profiles", []):
        if profile.get("name") == tensor:
            return int(profile["max_shape"][axis])
    return None


def tensorrt_plan(
    stage: NetworkStage, place: NetworkPlacement, plan: ModelCard | None = None
) -> RuntimeOutput:
    if plan is None:
        raise RuntimeSettingsError(
            f"{stage.name}: --runtime tensorrt needs a TensorRT plan beside {stage.path.name}; "
            f"on the GPU host run `loadcheck export tensorrt --onnx {stage.path}` first"
        )
    plan_path = stage.path.parent / plan.file
    if not plan_path.is_file():
        raise RuntimeSettingsError(
            f"{stage.name}: the plan card names {plan.file}, which is missing"
        )
    if stage.name == tn.SAM_DECODER_MODEL and place.max_boxes:
        most = _profile_max(plan, tn.SAM_DECODER_BOXES, 0)
        if most is not None and place.max_boxes > most:
            raise RuntimeSettingsError(
                f"sam_decoder: --max-det {place.max_boxes} is more boxes than the plan's "
                f"profile takes ({most}); rebuild the plan with --max-boxes {place.max_boxes} "
                f"or lower --max-det"
            )
    if _batching(stage, place):
        most = _profile_max(plan, stage.inputs[0].name, 0)
        if most is not None and place.max_batch_size > most:
            raise RuntimeSettingsError(
                f"{stage.name}: max batch {place.max_batch_size} is over the plan's profile "
                f"({most}); rebuild the plan with --max-batch {place.max_batch_size}"
            )
    config = ModelConfig(
        name=stage.name,
        platform="tensorrt_plan",
        default_model_filename="model.plan",
        cuda_graphs=place.cuda_graphs,
        **_common(stage, replace(place, cuda_graphs=False)),  # type: ignore[arg-type]
    )
    return RuntimeOutput(config, {"model.plan": plan_path})


def python_torch(
    stage: Network, place: NetworkPlacement, plan: ModelCard | None = None
) -> RuntimeOutput:
    """A network (or ``sam``, encoder + decoder in one model) as PyTorch in the Python backend."""
    fused = isinstance(stage, FusedSamStage)
    source = stage.encoder if isinstance(stage, FusedSamStage) else stage
    card = source.card
    checkpoint = find_checkpoint(source.path.parent, card.source_checkpoint, card.source_sha256)
    staging = Path(tempfile.mkdtemp(prefix=f"loadcheck-torch-{stage.name}-"))
    files, settings = prepare_network(
        stage.name, checkpoint, card.model_type, card.image_size, staging
    )
    settings = replace(settings, fused_attention=place.fused_attention, bf16=place.bf16)
    kind = TorchSamStep.kind if fused else TorchNetworkStep.kind
    config = ModelConfig(
        name=stage.name,
        backend="python",
        parameters=step_parameters(kind, settings),
        **_common(stage, place),  # type: ignore[arg-type]
    )
    return RuntimeOutput(config, files, staging=staging)


RuntimeBuilder = Callable[[NetworkStage, NetworkPlacement, ModelCard | None], RuntimeOutput]

RUNTIMES: dict[Runtime, RuntimeBuilder] = {
    Runtime.PYTHON_ONNXRUNTIME: python_onnxruntime,
    Runtime.ONNXRUNTIME: onnxruntime_native,
    Runtime.TENSORRT: tensorrt_plan,
    Runtime.PYTHON_TORCH: python_torch,
}
