"""Configs of the Python steps and of the ensembles (``segmentator``, ``integrator_<name>``).

The ensembles are linear chains; every intermediate tensor keeps its
:mod:`loadcheck.tensor_names` name, so the wiring reads the same as the contracts:

``IMAGE -> preprocess -> detector -> prompts -> sam_encoder -> sam_decoder -> masks [-> scorer]``

``prompts`` emits every kept detection (beds largest first, then loads) as SAM prompts, so one
``sam_decoder`` call decodes all K boxes; no loop and no BLS is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loadcheck import tensor_names as tn
from loadcheck.serving.config import (
    DataType,
    EnsembleStep,
    InstanceGroup,
    ModelConfig,
    TensorSpec,
)

BACKENDS = "loadcheck.serving.backends"

#: Generated ``model.py`` per Python step: the module whose ``TritonPythonModel`` it re-exports.
PYTHON_STEPS: dict[str, str] = {
    tn.PREPROCESS_MODEL: f"{BACKENDS}.preprocess",
    tn.PROMPTS_MODEL: f"{BACKENDS}.prompts",
    tn.MASKS_MODEL: f"{BACKENDS}.masks",
}
SCORER_MODULE = f"{BACKENDS}.scorer"
#: The segmentator's composing models, in pipeline order.
SEGMENTATOR_MODELS: tuple[str, ...] = (
    tn.PREPROCESS_MODEL,
    tn.DETECTOR_MODEL,
    tn.PROMPTS_MODEL,
    tn.SAM_ENCODER_MODEL,
    tn.SAM_DECODER_MODEL,
    tn.MASKS_MODEL,
)

SEGMENTATOR_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(tn.BOXES_XYXY, DataType.FP32, (-1, 4)),
    TensorSpec(tn.CLASS_IDS, DataType.INT32, (-1,)),
    TensorSpec(tn.SCORES, DataType.FP32, (-1,)),
    TensorSpec(tn.MASKS, DataType.UINT8, (-1, -1, -1)),
    TensorSpec(tn.MASK_IOU, DataType.FP32, (-1,)),
)
SCORER_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(tn.SCORE_RESULT, DataType.BYTES, (1,)),
    TensorSpec(tn.PROBABILITY, DataType.FP32, (1,)),
    TensorSpec(tn.THRESHOLD, DataType.FP32, (1,)),
    TensorSpec(tn.FEATURES, DataType.FP32, (-1,)),
    TensorSpec(tn.FEATURE_NAMES, DataType.BYTES, (-1,)),
    TensorSpec(tn.FEATURE_SPEC_VERSION, DataType.BYTES, (1,)),
    TensorSpec(tn.TRUCKS_JSON, DataType.BYTES, (1,)),
)
IMAGE_INPUT = TensorSpec(tn.IMAGE_BYTES, DataType.BYTES, (1,))


@dataclass(frozen=True)
class NetworkShapes:
    """Shapes the Python steps must agree on with the exported networks (full shapes, batch 1)."""

    detector_input: tuple[int, ...]  # [1, S, S, 3] uint8 or [1, 3, S, S] float32
    detector_input_dtype: DataType
    raw_detections: tuple[int, ...]  # [1, N, 5 + C]
    sam_side: int
    low_res_side: int


def _identity(*names: str) -> dict[str, str]:
    return {n: n for n in names}


def _python(
    name: str,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    instances: InstanceGroup,
    parameters: Mapping[str, str],
) -> ModelConfig:
    return ModelConfig(
        name=name,
        backend="python",
        inputs=inputs,
        outputs=outputs,
        instance_group=instances,
        parameters=dict(parameters),
    )


def preprocess_config(
    shapes: NetworkShapes, instances: InstanceGroup, parameters: Mapping[str, str]
) -> ModelConfig:
    return _python(
        tn.PREPROCESS_MODEL,
        [IMAGE_INPUT],
        [
            TensorSpec(tn.DETECTOR_INPUT, shapes.detector_input_dtype, shapes.detector_input),
            TensorSpec(tn.ORIGINAL_RGB, DataType.UINT8, (-1, -1, 3)),
            TensorSpec(tn.LETTERBOX, DataType.FP32, (3,)),
        ],
        instances,
        parameters,
    )


def prompts_config(
    shapes: NetworkShapes, instances: InstanceGroup, parameters: Mapping[str, str]
) -> ModelConfig:
    s = shapes.sam_side
    return _python(
        tn.PROMPTS_MODEL,
        [
            TensorSpec(tn.DETECTOR_RAW_OUTPUT, DataType.FP32, shapes.raw_detections),
            TensorSpec(tn.LETTERBOX, DataType.FP32, (3,)),
            TensorSpec(tn.ORIGINAL_RGB, DataType.UINT8, (-1, -1, 3)),
        ],
        [
            *SEGMENTATOR_OUTPUTS[:3],
            TensorSpec(tn.SAM_ENCODER_INPUT, DataType.UINT8, (1, s, s, 3)),
            TensorSpec(tn.SAM_DECODER_BOXES, DataType.FP32, (-1, 4)),
            TensorSpec(tn.SAM_DECODER_POINT_COORDS, DataType.FP32, (-1, 1, 2)),
            TensorSpec(tn.SAM_DECODER_POINT_LABELS, DataType.FP32, (-1, 1)),
            TensorSpec(tn.SAM_REGION_XYWH, DataType.FP32, (4,)),
            TensorSpec(tn.IMAGE_WH, DataType.INT32, (2,)),
        ],
        instances,
        parameters,
    )


def masks_config(
    shapes: NetworkShapes, instances: InstanceGroup, parameters: Mapping[str, str]
) -> ModelConfig:
    low = shapes.low_res_side
    return _python(
        tn.MASKS_MODEL,
        [
            TensorSpec(tn.SAM_LOW_RES_MASKS, DataType.FP32, (-1, 1, low, low)),
            TensorSpec(tn.SAM_IOU_PREDICTIONS, DataType.FP32, (-1, 1)),
            TensorSpec(tn.SAM_REGION_XYWH, DataType.FP32, (4,)),
            TensorSpec(tn.IMAGE_WH, DataType.INT32, (2,)),
            TensorSpec(tn.CLASS_IDS, DataType.INT32, (-1,)),
            TensorSpec(tn.ORIGINAL_RGB, DataType.UINT8, (-1, -1, 3)),
        ],
        list(SEGMENTATOR_OUTPUTS[3:]),
        instances,
        parameters,
    )


def segmentator_steps() -> list[EnsembleStep]:
    """The six steps from ``IMAGE`` to boxes, classes, scores and masks."""
    return [
        EnsembleStep(
            tn.PREPROCESS_MODEL,
            _identity(tn.IMAGE_BYTES),
            _identity(tn.DETECTOR_INPUT, tn.ORIGINAL_RGB, tn.LETTERBOX),
        ),
        EnsembleStep(
            tn.DETECTOR_MODEL, _identity(tn.DETECTOR_INPUT), _identity(tn.DETECTOR_RAW_OUTPUT)
        ),
        EnsembleStep(
            tn.PROMPTS_MODEL,
            _identity(tn.DETECTOR_RAW_OUTPUT, tn.LETTERBOX, tn.ORIGINAL_RGB),
            _identity(
                tn.BOXES_XYXY,
                tn.CLASS_IDS,
                tn.SCORES,
                tn.SAM_ENCODER_INPUT,
                tn.SAM_DECODER_BOXES,
                tn.SAM_DECODER_POINT_COORDS,
                tn.SAM_DECODER_POINT_LABELS,
                tn.SAM_REGION_XYWH,
                tn.IMAGE_WH,
            ),
        ),
        EnsembleStep(
            tn.SAM_ENCODER_MODEL, _identity(tn.SAM_ENCODER_INPUT), _identity(tn.SAM_EMBEDDINGS)
        ),
        EnsembleStep(
            tn.SAM_DECODER_MODEL,
            _identity(
                tn.SAM_DECODER_EMBEDDINGS,
                tn.SAM_DECODER_BOXES,
                tn.SAM_DECODER_POINT_COORDS,
                tn.SAM_DECODER_POINT_LABELS,
            ),
            _identity(tn.SAM_LOW_RES_MASKS, tn.SAM_IOU_PREDICTIONS),
        ),
        EnsembleStep(
            tn.MASKS_MODEL,
            _identity(
                tn.SAM_LOW_RES_MASKS,
                tn.SAM_IOU_PREDICTIONS,
                tn.SAM_REGION_XYWH,
                tn.IMAGE_WH,
                tn.CLASS_IDS,
                tn.ORIGINAL_RGB,
            ),
            _identity(tn.MASKS, tn.MASK_IOU),
        ),
    ]


def segmentator_config() -> ModelConfig:
    return ModelConfig(
        name=tn.SEGMENTATOR_ENSEMBLE,
        platform="ensemble",
        inputs=[IMAGE_INPUT],
        outputs=list(SEGMENTATOR_OUTPUTS),
        ensemble_steps=segmentator_steps(),
    )


def scorer_config(
    integrator: str, instances: InstanceGroup, parameters: Mapping[str, str]
) -> ModelConfig:
    """``scorer_<integrator>``: segmentator outputs -> verdict, probability, features, trucks."""
    return _python(
        tn.scorer_model_name(integrator),
        list(SEGMENTATOR_OUTPUTS),
        list(SCORER_OUTPUTS),
        instances,
        parameters,
    )


def integrator_config(integrator: str) -> ModelConfig:
    """``integrator_<name>``: the segmentator's steps plus the integrator's scorer."""
    scorer = EnsembleStep(
        tn.scorer_model_name(integrator),
        _identity(*(t.name for t in SEGMENTATOR_OUTPUTS)),
        _identity(*(t.name for t in SCORER_OUTPUTS)),
    )
    return ModelConfig(
        name=tn.integrator_model_name(integrator),
        platform="ensemble",
        inputs=[IMAGE_INPUT],
        outputs=[*SCORER_OUTPUTS, *SEGMENTATOR_OUTPUTS[:3]],
        ensemble_steps=[*segmentator_steps(), scorer],
    )


def model_py(module: str) -> str:
    """The generated ``model.py``: one import of the installed, tested adapter."""
    return (
        '"""Generated by `loadcheck repository build`; the code is in the loadcheck package."""\n'
        "\n"
        f"from {module} import TritonPythonModel\n"
        "\n"
        '__all__ = ["TritonPythonModel"]\n'
    )
