"""``prompts``: raw YOLOv6 output -> detections in original pixels, SAM's input and its prompts.

Coordinates: the detector works in letterboxed detector-input pixels, results are returned in
original-image pixels, and SAM sees a *region* of the original image (the whole frame, or the
detected trucks' crop) resized so that its longest side is the SAM side ``S``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Detections
from loadcheck.pipeline.params import Codec, StepSettings
from loadcheck.pipeline.preprocess import Letterbox
from loadcheck.pipeline.step import Arrays, Step, StepInputError
from loadcheck.pipeline.tensors import TensorSpec, spec


class SamFrame(StrEnum):
    """What SAM encodes: the whole frame, or the crop around the detected trucks."""

    WHOLE = "whole"
    CROP = "crop"


@dataclass(frozen=True)
class DetectorSettings:
    """The old segmentator's detector settings (``--conf-thres``, ``--iou-thres``, ``--max-det``).

    Thresholds are in [0, 1]; ``max_det`` caps the kept detections per image.
    """

    conf_thres: float = 0.25
    iou_thres: float = 0.45
    max_det: int = 1000

    def __post_init__(self) -> None:
        if not (0.0 <= self.conf_thres <= 1.0 and 0.0 <= self.iou_thres <= 1.0):
            raise ValueError("conf_thres and iou_thres must be in [0, 1]")
        if self.max_det < 1:
            raise ValueError(f"max_det must be >= 1, got {self.max_det}")


@dataclass(frozen=True)
class SamRegion:
    """The part of the original image SAM encodes: ``(x0, y0, w, h)`` in original pixels.

    ``sam_xy = (original_xy - (x0, y0)) * side / max(w, h)``.
    """

    x0: int
    y0: int
    w: int
    h: int

    def scale(self, side: int) -> float:
        return side / max(self.w, self.h)

    def to_array(self) -> np.ndarray:
        """float32 ``[4]``: x0, y0, w, h."""
        return np.array([self.x0, self.y0, self.w, self.h], np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> SamRegion:
        flat = np.asarray(values, np.float32).reshape(-1)
        if flat.shape != (4,) or flat[2] < 1 or flat[3] < 1:
            raise ValueError(f"sam region: expected float32 [4] (x0, y0, w>=1, h>=1), got {flat}")
        return cls(int(flat[0]), int(flat[1]), int(flat[2]), int(flat[3]))


def nms(
    xyxy: np.ndarray, scores: np.ndarray, iou_thres: float, max_keep: int | None = None
) -> np.ndarray:
    """Greedy non-maximum suppression; int64 indices of kept boxes, best score first.

    Args:
        xyxy: float32 ``[N, 4]`` boxes.
        scores: float32 ``[N]``.
        iou_thres: a box is dropped when its IoU with a kept box is above this.
        max_keep: stop once this many boxes are kept (the same first boxes as without it;
            each kept box costs one pass over the rest, so this bounds the work).
    """
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
    keep: list[int] = []
    while order.size and (max_keep is None or len(keep) < max_keep):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x1 = np.maximum(xyxy[i, 0], xyxy[rest, 0])
        y1 = np.maximum(xyxy[i, 1], xyxy[rest, 1])
        x2 = np.minimum(xyxy[i, 2], xyxy[rest, 2])
        y2 = np.minimum(xyxy[i, 3], xyxy[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_thres]
    return np.asarray(keep, np.int64)


def decode_yolo(
    raw: np.ndarray,
    letterbox: Letterbox,
    image_wh: tuple[int, int],
    settings: DetectorSettings,
) -> Detections:
    """Raw YOLOv6 output to class-wise NMS'd detections in original-image pixels.

    Args:
        raw: float32 ``[N, 5 + C]`` (or ``[1, N, 5 + C]``): cx, cy, w, h in detector-input
            pixels, objectness, C class scores.
        letterbox: the transform the preprocess step applied.
        image_wh: the original image size in pixels.
    """
    pred = np.asarray(raw, np.float32)
    if pred.ndim == 3 and pred.shape[0] == 1:
        pred = pred[0]
    if pred.ndim != 2 or pred.shape[1] < 6:
        raise ValueError(f"raw detections: expected float32 [N, 5 + C], got {pred.shape}")
    cls_scores = pred[:, 5:] * pred[:, 4:5]
    # Multi-label: every (position, class) pair above the threshold is a candidate. A load box
    # nearly coincides with its bed box, so keeping only the best class per position (YOLOv6's
    # default) would hide the load wherever the bed scores higher.
    rows, class_id = np.nonzero(cls_scores > settings.conf_thres)
    conf = cls_scores[rows, class_id]
    pred = pred[rows]
    if not len(pred):
        return Detections.empty()
    cxcy, wh = pred[:, :2], pred[:, 2:4]
    xyxy = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1)
    offset = class_id[:, None].astype(np.float32) * 4096.0  # class-wise NMS in one pass
    kept = nms(xyxy + offset, conf, settings.iou_thres, settings.max_det)
    xyxy, conf, class_id = xyxy[kept], conf[kept], class_id[kept]
    xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] - letterbox.pad_x) / letterbox.scale
    xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] - letterbox.pad_y) / letterbox.scale
    w, h = image_wh
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    return Detections(xyxy, np.clip(conf, 0.0, 1.0), class_id.astype(np.int32))


def select_prompts(detections: Detections) -> Detections:
    """The boxes SAM segments: every bed and load, largest beds first, then loads by score."""
    beds = detections.of_class(BED_CLASS_ID)
    loads = detections.of_class(LOAD_CLASS_ID)
    bed_order = np.argsort(-beds.area, kind="stable")
    load_order = np.argsort(-loads.confidence, kind="stable")
    return Detections(
        np.concatenate([beds.xyxy[bed_order], loads.xyxy[load_order]]),
        np.concatenate([beds.confidence[bed_order], loads.confidence[load_order]]),
        np.concatenate([beds.class_id[bed_order], loads.class_id[load_order]]),
    )


def sam_region(
    detections: Detections, image_wh: tuple[int, int], frame: SamFrame, margin: float = 0.1
) -> SamRegion:
    """The whole frame, or the union of all boxes grown by ``margin`` of its size, clipped."""
    w, h = image_wh
    if frame is SamFrame.WHOLE or not len(detections):
        return SamRegion(0, 0, w, h)
    x1, y1 = detections.xyxy[:, :2].min(axis=0)
    x2, y2 = detections.xyxy[:, 2:].max(axis=0)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    x0 = int(np.clip(np.floor(x1 - mx), 0, w - 1))
    y0 = int(np.clip(np.floor(y1 - my), 0, h - 1))
    x3 = int(np.clip(np.ceil(x2 + mx), x0 + 1, w))  # at least one pixel, inside the image
    y3 = int(np.clip(np.ceil(y2 + my), y0 + 1, h))
    return SamRegion(x0, y0, x3 - x0, y3 - y0)


def remap_classes(detections: Detections, class_map: dict[int, int]) -> Detections:
    """Detector class ids -> loadcheck class ids (:data:`BED_CLASS_ID`, :data:`LOAD_CLASS_ID`);
    detections of classes not in ``class_map`` are dropped."""
    keep = np.isin(detections.class_id, list(class_map))
    mapped = np.array([class_map[int(c)] for c in detections.class_id[keep]], np.int32)
    return Detections(detections.xyxy[keep], detections.confidence[keep], mapped)


def parse_class_map(text: str) -> dict[int, int]:
    """``"bed=0,load=1"`` (loadcheck class = detector class id) -> {detector id: loadcheck id}."""
    ids = {"bed": BED_CLASS_ID, "load": LOAD_CLASS_ID}
    out: dict[int, int] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        if name not in ids or not value.strip().isdigit():
            raise ValueError(f"class map item {item!r}: expected bed=<id> or load=<id>")
        out[int(value)] = ids[name]
    return out


def format_class_map(class_map: dict[str, int]) -> str:
    """The card's {"bed": id, "load": id} as the ``prompts`` model parameter text."""
    return ",".join(f"{name}={cid}" for name, cid in sorted(class_map.items()))


def sam_input(
    rgb: np.ndarray, region: SamRegion, side: int, pad_rgb: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """uint8 ``[side, side, 3]``: the region, longest side resized to ``side``, padded
    bottom/right with ``pad_rgb`` (SAM's exporter pads with its pixel mean)."""
    crop = rgb[region.y0 : region.y0 + region.h, region.x0 : region.x0 + region.w]
    scale = region.scale(side)
    new_w = min(side, max(1, round(region.w * scale)))
    new_h = min(side, max(1, round(region.h * scale)))
    resized = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out = np.empty((side, side, 3), np.uint8)
    out[:] = np.asarray(pad_rgb, np.uint8)
    out[:new_h, :new_w] = resized
    return out


def boxes_to_sam(xyxy: np.ndarray, region: SamRegion, side: int) -> np.ndarray:
    """float32 ``[max(K, 1), 4]`` original-pixel boxes mapped into the ``side x side`` SAM frame.

    With no box, one dummy box (the frame's top-left 1 x 1 pixel) is returned so that decoders
    with a static minimum of one prompt (TensorRT profiles, ORT reshapes) never see K = 0; the
    ``masks`` step drops masks beyond the real box count.
    """
    scale = region.scale(side)
    out = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
    if not len(out):
        return np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)
    out[:, [0, 2]] = (out[:, [0, 2]] - region.x0) * scale
    out[:, [1, 3]] = (out[:, [1, 3]] - region.y0) * scale
    return out.astype(np.float32)


LOAD_POINT_DEPTH = 0.8
"""Where the positive point of a load prompt sits: the box's centre column, this share of the
box's height down from its top (a load rests on the bed floor, so the lower middle of its box is
load even when the box comes out as large as the bed)."""
POINT_LABEL_NONE = -1.0  # SAM's padding point ("not a point")
POINT_LABEL_POSITIVE = 1.0  # SAM's foreground point


def prompt_points(xyxy: np.ndarray, class_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The point that goes with each box prompt: ``(coords [K, 1, 2], labels [K, 1])`` float32.

    A load box gets a positive point at its lower middle (:data:`LOAD_POINT_DEPTH`); a bed box
    gets SAM's padding point (label -1, coordinates 0). The point is what tells SAM which object
    a box asks for when a full load's box coincides with its bed's box. ``xyxy`` may be in any
    frame (the point is in the same one); with no box, one padding point is returned, matching
    :func:`boxes_to_sam`'s dummy box.
    """
    boxes = np.asarray(xyxy, np.float32).reshape(-1, 4)
    ids = np.asarray(class_id).reshape(-1)
    if len(ids) != len(boxes):
        raise ValueError(f"prompt_points: {len(boxes)} boxes but {len(ids)} class ids")
    if not len(boxes):
        return np.zeros((1, 1, 2), np.float32), np.full((1, 1), POINT_LABEL_NONE, np.float32)
    is_load = ids == LOAD_CLASS_ID
    coords = np.zeros((len(boxes), 1, 2), np.float32)
    coords[:, 0, 0] = np.where(is_load, 0.5 * (boxes[:, 0] + boxes[:, 2]), 0.0)
    coords[:, 0, 1] = np.where(
        is_load, boxes[:, 1] + LOAD_POINT_DEPTH * (boxes[:, 3] - boxes[:, 1]), 0.0
    )
    labels = np.where(is_load, POINT_LABEL_POSITIVE, POINT_LABEL_NONE).astype(np.float32)
    return coords, labels.reshape(-1, 1)


def decoder_prompts(prompts: Detections, region: SamRegion, side: int) -> dict[str, np.ndarray]:
    """The SAM decoder's prompt inputs for ``prompts`` (original pixels) seen through ``region``:
    ``boxes_xyxy`` [K, 4], ``point_coords`` [K, 1, 2], ``point_labels`` [K, 1], in the
    ``side x side`` frame (K >= 1: one dummy prompt when there is no box)."""
    boxes = boxes_to_sam(prompts.xyxy, region, side)
    class_id = prompts.class_id if len(prompts) else np.zeros(1, np.int32)
    coords, labels = prompt_points(boxes, class_id)
    return {
        tn.SAM_DECODER_BOXES: boxes,
        tn.SAM_DECODER_POINT_COORDS: coords,
        tn.SAM_DECODER_POINT_LABELS: labels,
    }


CLASS_NAMES_BY_ID = {"bed": BED_CLASS_ID, "load": LOAD_CLASS_ID}
CLASS_MAP_CODEC = Codec(format_class_map, lambda text: _card_class_map(parse_class_map(text)))


def _card_class_map(detector_to_loadcheck: dict[int, int]) -> dict[str, int]:
    names = {v: k for k, v in CLASS_NAMES_BY_ID.items()}
    return {names[lc]: det for det, lc in detector_to_loadcheck.items()}


@dataclass(frozen=True)
class PromptsSettings(StepSettings):
    """The ``prompts`` step's settings.

    Attributes:
        conf_thres / iou_thres / max_det: the detector's thresholds (:class:`DetectorSettings`).
        sam_img_size: S, the SAM encoder's input side in pixels.
        sam_frame: what SAM encodes (:class:`SamFrame`).
        sam_pad_rgb: the padding of SAM's input (its encoder card's ``pad_rgb``).
        class_map: loadcheck class (``bed``, ``load``) -> detector class id (the card's).
        num_classes: C, the detector's class count (0: not declared, any C is taken).
    """

    conf_thres: float = 0.25
    iou_thres: float = 0.45
    max_det: int = 1000
    sam_img_size: int = 1024
    sam_frame: SamFrame = SamFrame.CROP
    sam_pad_rgb: tuple[int, ...] = (0, 0, 0)
    class_map: dict[str, int] = field(
        default_factory=lambda: dict(CLASS_NAMES_BY_ID), metadata={"codec": CLASS_MAP_CODEC}
    )
    num_classes: int = 0

    def __post_init__(self) -> None:
        DetectorSettings(self.conf_thres, self.iou_thres, self.max_det)  # validates
        if self.sam_img_size < 16 or self.sam_img_size % 16:
            raise ValueError(
                f"sam_img_size: expected a multiple of 16 pixels, got {self.sam_img_size}"
            )
        if len(self.sam_pad_rgb) != 3 or not all(0 <= v <= 255 for v in self.sam_pad_rgb):
            raise ValueError(f"sam_pad_rgb: expected three levels 0..255, got {self.sam_pad_rgb}")
        unknown = set(self.class_map) - set(CLASS_NAMES_BY_ID)
        if unknown or not self.class_map:
            raise ValueError(
                f"class_map: expected detector ids for {sorted(CLASS_NAMES_BY_ID)}, "
                f"got {self.class_map}"
            )
        if self.num_classes < 0 or any(
            not 0 <= v < (self.num_classes or 1 << 30) for v in self.class_map.values()
        ):
            raise ValueError(
                f"class_map {self.class_map}: ids must lie in 0..{self.num_classes - 1}"
            )

    @property
    def detector(self) -> DetectorSettings:
        return DetectorSettings(self.conf_thres, self.iou_thres, self.max_det)

    @property
    def detector_to_loadcheck(self) -> dict[int, int]:
        """Detector class id -> loadcheck class id."""
        return {det: CLASS_NAMES_BY_ID[name] for name, det in self.class_map.items()}

    @property
    def pad(self) -> tuple[int, int, int]:
        r, g, b = self.sam_pad_rgb
        return r, g, b


class PromptsStep(Step):
    """Inputs: ``raw_detections`` float32 [1, N, 5+C], ``letterbox`` float32 [3],
    ``original_rgb`` uint8 [H, W, 3]. Outputs: ``BOXES_XYXY`` [K, 4], ``CLASS_IDS`` [K],
    ``SCORES`` [K] (original pixels, beds largest first, then loads), ``image`` uint8
    [1, S, S, 3], ``boxes_xyxy`` float32 [K', 4], ``point_coords`` float32 [K', 1, 2],
    ``point_labels`` float32 [K', 1] (SAM frame; K' = max(K, 1)), ``sam_region_xywh`` float32
    [4], ``image_wh`` int32 [2]."""

    kind = "prompts"
    settings_type = PromptsSettings
    settings: PromptsSettings

    def __init__(self, name: str = tn.PROMPTS_MODEL, settings: StepSettings | None = None):
        super().__init__(name, settings or PromptsSettings())

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        width = 5 + self.settings.num_classes if self.settings.num_classes else -1
        return (
            spec(tn.DETECTOR_RAW_OUTPUT, "float32", 1, -1, width),
            spec(tn.LETTERBOX, "float32", 3),
            spec(tn.ORIGINAL_RGB, "uint8", -1, -1, 3),
        )

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        s = self.settings.sam_img_size
        return (
            spec(tn.BOXES_XYXY, "float32", -1, 4),
            spec(tn.CLASS_IDS, "int32", -1),
            spec(tn.SCORES, "float32", -1),
            spec(tn.SAM_ENCODER_INPUT, "uint8", 1, s, s, 3),
            spec(tn.SAM_DECODER_BOXES, "float32", -1, 4),
            spec(tn.SAM_DECODER_POINT_COORDS, "float32", -1, 1, 2),
            spec(tn.SAM_DECODER_POINT_LABELS, "float32", -1, 1),
            spec(tn.SAM_REGION_XYWH, "float32", 4),
            spec(tn.IMAGE_WH, "int32", 2),
        )

    def detect(self, raw: np.ndarray, transform: Letterbox, rgb: np.ndarray) -> Detections:
        """Raw detector output -> kept detections in original pixels with loadcheck class ids,
        in prompt order (:func:`select_prompts`)."""
        image_wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        found = decode_yolo(raw, transform, image_wh, self.settings.detector)
        return select_prompts(remap_classes(found, self.settings.detector_to_loadcheck))

    def prompt(self, prompts: Detections, rgb: np.ndarray) -> Arrays:
        """The step's outputs for given prompts (original pixels, in prompt order)."""
        image_wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        side = self.settings.sam_img_size
        region = sam_region(prompts, image_wh, self.settings.sam_frame)
        return {
            tn.BOXES_XYXY: prompts.xyxy,
            tn.CLASS_IDS: prompts.class_id,
            tn.SCORES: prompts.confidence,
            tn.SAM_ENCODER_INPUT: sam_input(rgb, region, side, self.settings.pad)[None],
            **decoder_prompts(prompts, region, side),
            tn.SAM_REGION_XYWH: region.to_array(),
            tn.IMAGE_WH: np.array(image_wh, np.int32),
        }

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        rgb = feeds[tn.ORIGINAL_RGB]
        try:
            transform = Letterbox.from_array(feeds[tn.LETTERBOX])
            prompts = self.detect(feeds[tn.DETECTOR_RAW_OUTPUT], transform, rgb)
        except ValueError as exc:
            raise StepInputError(str(exc)) from None
        return self.prompt(prompts, rgb)
