"""Model cards: the JSON written beside every exported model file, and reading a folder of them.

A card says what a model file is, so that the Triton repository builder never guesses: which
network and checkpoint it came from, its tensor names, dtypes and shapes, the input contract the
preprocess must honour, the detector class map and the library versions used.

The card of ``<dir>/sam_encoder.onnx`` is ``<dir>/sam_encoder.onnx.card.json`` (see
:func:`card_path_for`); a TensorRT plan ``detector.plan`` gets ``detector.plan.card.json``.

Shapes use ``-1`` for a dynamic dimension; ``dim_names`` names every dimension (``"B"`` batch,
``"K"`` prompt boxes, ``"N"`` candidate detections, ``"M"`` kept detections, ``"S"``/``"H"``/``"W"``
pixels, ``"C"`` channels or classes) so that TensorRT profiles and Triton configs can tell a batch
axis from a box axis.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from loadcheck.atomic import atomic_write_text
from loadcheck.pipeline.tensors import TensorSpec

CARD_FORMAT_VERSION = 1
CARD_SUFFIX = ".card.json"
#: Compute precisions a card may record (``int8``: MatMul weights quantised, dynamic activations).
CARD_DTYPES = ("fp32", "fp16", "int8")
PLAN_SUFFIX = ".plan"  # key of a TensorRT plan's card in :func:`load_cards`


class CardError(ValueError):
    """A model card is missing, unreadable or inconsistent."""


class ModelKind(StrEnum):
    """Which network of the pipeline a model file is."""

    SAM_ENCODER = "sam_encoder"
    SAM_DECODER = "sam_decoder"
    DETECTOR = "detector"


class InputContract(StrEnum):
    """What the first input tensor of a model expects.

    * ``uint8_nhwc_rgb``: uint8 ``[B, H, W, 3]`` RGB pixels, already resized and padded; every
      float operation (normalisation, HWC->CHW) happens inside the graph.
    * ``float32_nchw_rgb_unit``: float32 ``[B, 3, H, W]`` RGB scaled to [0, 1] (YOLOv6's own ONNX
      export, accepted through ``--from-onnx``): the preprocess must divide by 255 and transpose.
    * ``sam_embeddings_boxes_points``: the SAM decoder (float32 embeddings, xyxy boxes and one
      point prompt per box).
    """

    UINT8_NHWC_RGB = "uint8_nhwc_rgb"
    FLOAT32_NCHW_RGB_UNIT = "float32_nchw_rgb_unit"
    SAM_EMBEDDINGS_BOXES_POINTS = "sam_embeddings_boxes_points"


@dataclass(frozen=True)
class ModelCard:
    """Everything the serving side needs to know about one exported model file.

    Attributes:
        kind: which network this is (:class:`ModelKind` value).
        model_type: architecture, e.g. ``"vit_b"``, ``"vit_tiny"``, ``"yolov6n"``,
            ``"yolov6-onnx"`` (imported through ``--from-onnx``).
        file: the model file name, relative to the card's folder (``"sam_encoder.onnx"``).
        format: ``"onnx"`` or ``"tensorrt_plan"``.
        image_size: S, the square network input side in pixels (SAM: longest side resized to S
            and padded bottom/right; detector: letterboxed to S x S).
        opset: ONNX opset of the graph (for a plan: of the ONNX file it was built from).
        dtype: compute precision of the weights: ``"fp32"``, ``"fp16"`` or ``"int8"`` (the
            MatMul weights quantised to int8, activations quantised per call; ``extra`` then
            says how). Input and output tensors keep the dtypes listed in ``inputs``/``outputs``.
        inputs: input tensors, in graph order.
        outputs: output tensors, in graph order.
        input_contract: what the first input expects (:class:`InputContract` value).
        source_checkpoint: file name of the checkpoint or ONNX file exported from.
        source_sha256: hex sha256 of that file.
        library_versions: package -> version used for the export.
        created_utc: ISO-8601 UTC creation time.
        class_names: detector class names in class-id order (empty for SAM).
        class_map: loadcheck class (``"bed"``, ``"load"``) -> detector class id (empty for SAM).
        nms: ``"none"`` (raw ``[B, N, 5 + C]`` output), ``"onnx"`` (NonMaxSuppression in the
            graph) or ``"tensorrt"`` (EfficientNMS_TRT plugin); ``"none"`` for SAM.
        nms_iou_threshold: IoU threshold of in-graph NMS (0 when ``nms == "none"``).
        nms_score_threshold: score threshold of in-graph NMS (0 when ``nms == "none"``).
        max_detections: M, kept detections per image with in-graph NMS (0 otherwise).
        pad_rgb: pixel value the preprocess should pad with (SAM: its pixel mean, which the
            in-graph normalisation maps to ~0 as SAM's own preprocess does; detector: YOLOv6's
            letterbox grey 114).
        pixel_mean: per-channel mean (RGB, 0..255 scale) subtracted inside the graph.
        pixel_std: per-channel std (RGB, 0..255 scale) divided inside the graph.
        external_data: whether weights live in ``<file>.data`` beside the ONNX file.
        extra: further facts (TensorRT profiles, mask threshold...), JSON-serialisable.
        format_version: version of this card format.
    """

    kind: str
    model_type: str
    file: str
    format: str
    image_size: int
    opset: int
    dtype: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    input_contract: str
    source_checkpoint: str
    source_sha256: str
    library_versions: dict[str, str]
    created_utc: str
    class_names: tuple[str, ...] = ()
    class_map: dict[str, int] = field(default_factory=dict)
    nms: str = "none"
    nms_iou_threshold: float = 0.0
    nms_score_threshold: float = 0.0
    max_detections: int = 0
    pad_rgb: tuple[int, int, int] = (0, 0, 0)
    pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pixel_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    external_data: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = CARD_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.kind not in {k.value for k in ModelKind}:
            raise CardError(
                f"kind: expected one of {[k.value for k in ModelKind]}, got {self.kind!r}"
            )
        if self.dtype not in CARD_DTYPES:
            raise CardError(f"dtype: expected one of {CARD_DTYPES}, got {self.dtype!r}")
        if self.nms not in ("none", "onnx", "tensorrt"):
            raise CardError(f"nms: expected 'none', 'onnx' or 'tensorrt', got {self.nms!r}")
        if self.image_size <= 0:
            raise CardError(f"image_size: expected a positive int, got {self.image_size}")
        for cls_name, cls_id in self.class_map.items():
            if not 0 <= cls_id < len(self.class_names):
                raise CardError(
                    f"class_map[{cls_name!r}] = {cls_id} is not a class id of {self.class_names}"
                )

    # -- lookups -----------------------------------------------------------------------------
    def input(self, name: str) -> TensorSpec:
        """The input tensor called ``name``; :class:`CardError` if there is none."""
        return _by_name(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        """The output tensor called ``name``; :class:`CardError` if there is none."""
        return _by_name(self.outputs, name, "output")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # -- (de)serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("inputs", "outputs"):
            data[key] = [t.to_dict() for t in getattr(self, key)]
        for key in ("class_names", "pad_rgb", "pixel_mean", "pixel_std"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        version = int(data.get("format_version", CARD_FORMAT_VERSION))
        if version > CARD_FORMAT_VERSION:
            raise CardError(
                f"card format_version {version} is newer than this loadcheck reads "
                f"({CARD_FORMAT_VERSION})"
            )
        try:
            return cls(
                kind=str(data["kind"]),
                model_type=str(data["model_type"]),
                file=str(data["file"]),
                format=str(data["format"]),
                image_size=int(data["image_size"]),
                opset=int(data["opset"]),
                dtype=str(data["dtype"]),
                inputs=tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
                outputs=tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
                input_contract=str(data["input_contract"]),
                source_checkpoint=str(data["source_checkpoint"]),
                source_sha256=str(data["source_sha256"]),
                library_versions={str(k): str(v) for k, v in data["library_versions"].items()},
                created_utc=str(data["created_utc"]),
                class_names=tuple(str(n) for n in data.get("class_names", ())),
                class_map={str(k): int(v) for k, v in data.get("class_map", {}).items()},
                nms=str(data.get("nms", "none")),
                nms_iou_threshold=float(data.get("nms_iou_threshold", 0.0)),
                nms_score_threshold=float(data.get("nms_score_threshold", 0.0)),
                max_detections=int(data.get("max_detections", 0)),
                pad_rgb=_triple(data.get("pad_rgb", (0, 0, 0)), int),
                pixel_mean=_triple(data.get("pixel_mean", (0.0, 0.0, 0.0)), float),
                pixel_std=_triple(data.get("pixel_std", (1.0, 1.0, 1.0)), float),
                external_data=bool(data.get("external_data", False)),
                extra=dict(data.get("extra", {})),
                format_version=version,
            )
        except KeyError as exc:
            raise CardError(f"model card lacks the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CardError):
                raise
            raise CardError(f"model card has a malformed field: {exc}") from exc

    @property
    def key(self) -> str:
        """``kind``, or ``kind + ".plan"`` for a TensorRT plan's card."""
        return f"{self.kind}{PLAN_SUFFIX}" if self.format == "tensorrt_plan" else self.kind

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the card as JSON, atomically (temp file + fsync + rename). Returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        atomic_write_text(target, text)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModelCard:
        """Read a card written by :meth:`save`; :class:`CardError` names what is wrong."""
        source = Path(path)
        if not source.is_file():
            raise CardError(f"model card not found: {source}")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"model card {source} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise CardError(f"model card {source}: expected a JSON object")
        return cls.from_dict(data)

    @classmethod
    def for_model(cls, model_path: str | os.PathLike[str]) -> ModelCard:
        """Load the card that sits beside ``model_path`` (see :func:`card_path_for`)."""
        return cls.load(card_path_for(model_path))


def card_path_for(model_path: str | os.PathLike[str]) -> Path:
    """``dir/sam_encoder.onnx`` -> ``dir/sam_encoder.onnx.card.json``."""
    path = Path(model_path)
    return path.with_name(path.name + CARD_SUFFIX)


def _by_name(specs: tuple[TensorSpec, ...], name: str, what: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise CardError(f"no {what} tensor {name!r}; the card has {[s.name for s in specs]}")


def _triple(value: Any, kind: type) -> Any:
    items = tuple(kind(v) for v in value)
    if len(items) != 3:
        raise CardError(f"expected 3 values (R, G, B), got {list(value)}")
    return items


@dataclass(frozen=True)
class ExportedNetworks:
    """The three networks of a folder written by ``loadcheck export``, by their cards.

    Attributes:
        folder: the export folder (model files and cards).
        detector / sam_encoder / sam_decoder: the ONNX files' cards.
        plans: TensorRT plans' cards by network name (``loadcheck export tensorrt``), if any.
    """

    folder: Path
    detector: ModelCard
    sam_encoder: ModelCard
    sam_decoder: ModelCard
    plans: dict[str, ModelCard] = field(default_factory=dict)

    def card(self, network: str) -> ModelCard:
        """The ONNX card of ``network`` (``detector``, ``sam_encoder`` or ``sam_decoder``)."""
        if network not in NETWORK_KINDS:
            raise CardError(f"unknown network {network!r}; expected one of {NETWORK_KINDS}")
        card: ModelCard = getattr(self, network)
        return card

    def path(self, network: str) -> Path:
        return self.folder / self.card(network).file


NETWORK_KINDS: tuple[str, ...] = (
    ModelKind.DETECTOR.value,
    ModelKind.SAM_ENCODER.value,
    ModelKind.SAM_DECODER.value,
)


def load_cards(folder: str | os.PathLike[str]) -> ExportedNetworks:
    """Every card of an export folder; all three networks are needed.

    Raises:
        CardError: not a folder, an unreadable card, two cards for one network, or a network
            without a card.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CardError(f"{root} is not a folder")
    cards: dict[str, ModelCard] = {}
    for path in sorted(root.glob(f"*{CARD_SUFFIX}")):
        try:
            card = ModelCard.load(path)
        except CardError as exc:
            raise CardError(f"{path}: {exc}") from exc
        if card.key in cards:
            raise CardError(f"{root}: two model cards for {card.key!r}")
        cards[card.key] = card
    missing = [k for k in NETWORK_KINDS if k not in cards]
    if missing:
        raise CardError(
            f"{root}: no model card for {missing}; expected *{CARD_SUFFIX} files written by "
            "`loadcheck export` beside detector, sam_encoder and sam_decoder"
        )
    plans = {k: cards[f"{k}{PLAN_SUFFIX}"] for k in NETWORK_KINDS if f"{k}{PLAN_SUFFIX}" in cards}
    return ExportedNetworks(
        root, cards["detector"], cards["sam_encoder"], cards["sam_decoder"], plans
    )
