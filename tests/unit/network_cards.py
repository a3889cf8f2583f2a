"""Model cards of a detector (640 px, 2 classes), a SAM encoder (1024 px) and decoder, without
model files: what the declaration, the config generation and the wiring tests need."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import ExportedNetworks, InputContract, ModelCard, ModelKind
from loadcheck.pipeline.tensors import TensorSpec

SAM_PAD = (124, 116, 104)


def _card(kind: ModelKind, file: str, size: int, inputs, outputs, **extra) -> ModelCard:  # type: ignore[no-untyped-def]
    return ModelCard(
        kind=kind.value,
        model_type="yolov6n" if kind is ModelKind.DETECTOR else "vit_b",
        file=file,
        format="onnx",
        image_size=size,
        opset=17,
        dtype="fp32",
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        input_contract=extra.pop("input_contract", InputContract.UINT8_NHWC_RGB.value),
        source_checkpoint="checkpoint.pt",
        source_sha256="ab" * 32,
        library_versions={},
        created_utc="2026-12-05T00:00:00+00:00",
        **extra,
    )


def detector_card(*, float_input: bool = False) -> ModelCard:
    image = (
        TensorSpec(tn.DETECTOR_INPUT, "float32", (-1, 3, 640, 640), ("B", "3", "S", "S"))
        if float_input
        else TensorSpec(tn.DETECTOR_INPUT, "uint8", (-1, 640, 640, 3), ("B", "S", "S", "3"))
    )
    contract = InputContract.FLOAT32_NCHW_RGB_UNIT if float_input else InputContract.UINT8_NHWC_RGB
    return _card(
        ModelKind.DETECTOR,
        "detector.onnx",
        640,
        [image],
        [TensorSpec(tn.DETECTOR_RAW_OUTPUT, "float32", (-1, 8400, 7), ("B", "N", "5+C"))],
        input_contract=contract.value,
        class_names=("truck", "mine"),
        class_map={"bed": 0, "load": 1},
        pad_rgb=(114, 114, 114),
    )


def encoder_card(side: int = 1024) -> ModelCard:
    return _card(
        ModelKind.SAM_ENCODER,
        "sam_encoder.onnx",
        side,
        [TensorSpec(tn.SAM_ENCODER_INPUT, "uint8", (-1, side, side, 3), ("B", "S", "S", "3"))],
        [
            TensorSpec(
                tn.SAM_EMBEDDINGS,
                "float32",
                (-1, 256, side // 16, side // 16),
                ("B", "C", "H", "W"),
            )
        ],
        pad_rgb=SAM_PAD,
    )


def decoder_card(side: int = 1024) -> ModelCard:
    low, grid = side // 4, side // 16
    return _card(
        ModelKind.SAM_DECODER,
        "sam_decoder.onnx",
        side,
        [
            TensorSpec(
                tn.SAM_DECODER_EMBEDDINGS, "float32", (1, 256, grid, grid), ("1", "C", "H", "W")
            ),
            TensorSpec(tn.SAM_DECODER_BOXES, "float32", (-1, 4), ("K", "4")),
            TensorSpec(tn.SAM_DECODER_POINT_COORDS, "float32", (-1, 1, 2), ("K", "1", "2")),
            TensorSpec(tn.SAM_DECODER_POINT_LABELS, "float32", (-1, 1), ("K", "1")),
        ],
        [
            TensorSpec(tn.SAM_LOW_RES_MASKS, "float32", (-1, 1, low, low), ("K", "1", "h", "w")),
            TensorSpec(tn.SAM_IOU_PREDICTIONS, "float32", (-1, 1), ("K", "1")),
        ],
        input_contract=InputContract.SAM_EMBEDDINGS_BOXES_POINTS.value,
    )


def synthetic_networks(folder: Path = Path("exports"), **changes: ModelCard) -> ExportedNetworks:
    """The three cards (``changes`` replaces any of them by network name)."""
    networks = ExportedNetworks(folder, detector_card(), encoder_card(), decoder_card())
    return dataclasses.replace(networks, **changes)
