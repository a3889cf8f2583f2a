"""Every step class by its ``kind``, and building a step from a Triton model config.

:func:`step_from_config` is the one way a step is built from what the repository holds: the
Python-backend adapter calls it inside Triton with the config Triton hands to ``initialize``,
and the in-process runner calls it with the ``config.pbtxt`` it reads, so both run the same
object with the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadcheck.pipeline.masks import MasksStep
from loadcheck.pipeline.networks import OnnxNetworkSettings, OnnxNetworkStep
from loadcheck.pipeline.params import ParamsError
from loadcheck.pipeline.preprocess import PreprocessStep
from loadcheck.pipeline.prompts import PromptsStep
from loadcheck.pipeline.scorer import ScorerStep
from loadcheck.pipeline.step import Step, StepContext
from loadcheck.pipeline.tensors import TRITON_TYPES, TensorSpec
from loadcheck.pipeline.torch_networks import TorchNetworkStep
from loadcheck.pipeline.torch_sam import TorchSamStep

#: Step classes by the ``step`` parameter of their model's config.
STEP_TYPES: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (
        PreprocessStep,
        PromptsStep,
        MasksStep,
        OnnxNetworkStep,
        TorchNetworkStep,
        TorchSamStep,
        ScorerStep,
    )
}
STEP_PARAM = "step"
#: Triton's own ONNX platforms run in-process as the ONNX file they serve.
NATIVE_ONNX_PLATFORM = "onnxruntime_onnx"
_DTYPE_OF_TRITON = {v: k for k, v in TRITON_TYPES.items()}


def config_parameters(config: Mapping[str, Any]) -> dict[str, str]:
    """``parameters`` of a JSON model config (as Triton hands it to ``initialize``), as text."""
    params = config.get("parameters", {}) or {}
    return {str(k): str(v.get("string_value", "")) for k, v in params.items()}


def config_tensors(config: Mapping[str, Any], key: str) -> tuple[TensorSpec, ...]:
    """The config's ``input`` or ``output`` tensors as full shapes (the batch axis, ``-1``,
    first when the model batches)."""
    batching = int(config.get("max_batch_size", 0) or 0) > 0
    specs = []
    for item in config.get(key, []) or []:
        dims = tuple(int(d) for d in item.get("dims", []))
        dtype = _DTYPE_OF_TRITON.get(str(item.get("data_type", "")))
        if dtype is None:
            raise ParamsError(f"tensor {item.get('name')!r}: unknown type {item.get('data_type')}")
        shape = (-1, *dims) if batching else dims
        names = ("B", *("" for _ in dims)) if batching else ()
        specs.append(
            TensorSpec(str(item["name"]), dtype, shape, names, bool(item.get("optional", False)))
        )
    return tuple(specs)


def step_from_config(
    config: Mapping[str, Any], version_dir: Path | None, device: str = "cpu"
) -> Step:
    """The step a model config describes, loaded (network files opened, score model read).

    Args:
        config: the JSON model config (Triton's ``args["model_config"]``, or a parsed
            ``config.pbtxt``).
        version_dir: the model's version folder.
        device: ``"cpu"`` or ``"cuda:N"``.

    Raises:
        ParamsError: no or an unknown ``step`` parameter, or settings that do not parse.
    """
    params = config_parameters(config)
    name = str(config.get("name", ""))
    kind = params.get(STEP_PARAM)
    if kind is None and config.get("platform") == NATIVE_ONNX_PLATFORM:
        kind = OnnxNetworkStep.kind
        filename = str(config.get("default_model_filename") or "model.onnx")
        params = {"network_file": filename}
    if kind not in STEP_TYPES:
        raise ParamsError(
            f"model {name!r}: parameter {STEP_PARAM!r} is {kind!r}; expected one of "
            f"{sorted(STEP_TYPES)} (rebuild the repository with `loadcheck repository build`)"
        )
    cls = STEP_TYPES[kind]
    settings = cls.settings_type.from_params({k: v for k, v in params.items() if k != STEP_PARAM})
    context = StepContext(
        name=name,
        version_dir=version_dir,
        device=device,
        inputs=config_tensors(config, "input"),
        outputs=config_tensors(config, "output"),
        batching=int(config.get("max_batch_size", 0) or 0) > 0,
    )
    return cls.load(settings, context)


__all__ = [
    "STEP_PARAM",
    "STEP_TYPES",
    "OnnxNetworkSettings",
    "config_parameters",
    "config_tensors",
    "step_from_config",
]
