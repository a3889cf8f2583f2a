"""Box-prompt training examples for SAM from a ``loadcheck synth`` style folder.

Layout read (what ``loadcheck synth`` writes; a site's own labelled photos in the same shape)::

    images/<stem>.jpg          photos (JPEG/PNG)
    masks/<stem>_bed.png       0/255 union of the beds in the photo
    masks/<stem>_load.png      0/255 union of the loads
    labels.json                optional: per-image ``boxes`` {"bed": [xyxy...], "load": [...]}

Instances: each box of ``labels.json`` with the union mask of its class inside that box (pixel
edges, ``x2`` exclusive). Without ``labels.json`` the instances are the connected components of
the union masks. Overlapping trucks therefore share the pixels of their box overlap; the synthetic
scenes mostly keep trucks apart.

Framing follows the serving ``prompts`` step (:mod:`loadcheck.pipeline.prompts`): SAM sees the
whole frame or the crop around all trucks (box union grown by 10 %), longest side resized to S,
padded bottom/right with SAM's pixel mean; boxes are mapped with the same functions.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from loadcheck import imageio
from loadcheck.imageio import ImageDecodeError, is_image_name
from loadcheck.payloads import BED_CLASS_ID, CLASS_NAMES, LOAD_CLASS_ID, Detections
from loadcheck.pipeline.prompts import SamFrame, SamRegion, boxes_to_sam, sam_input, sam_region
from loadcheck.train.augment import PhotometricAugment
from loadcheck.train.common import TrainError
from loadcheck.train.detector_data import read_rgb

logger = logging.getLogger(__name__)

FRAMES = ("crop", "whole")
MIN_COMPONENT_SHARE = 0.0005  # components under 0.05 % of the image are noise
TOP_NOISE_LIMIT = 0.4  # box heights: the farthest noisy_top_edges moves a top edge


@dataclass(frozen=True)
class SegSample:
    """One photo with its instance boxes.

    Attributes:
        image / bed_mask / load_mask: file paths.
        xyxy: float32 ``[K, 4]`` instance boxes in original pixels (pixel edges).
        class_id: int32 ``[K]`` (:data:`BED_CLASS_ID`, :data:`LOAD_CLASS_ID`).
    """

    image: Path
    bed_mask: Path
    load_mask: Path
    xyxy: np.ndarray
    class_id: np.ndarray


@dataclass(frozen=True)
class SegExample:
    """What one photo contributes to a step, in the S x S SAM frame.

    Attributes:
        image: uint8 ``[S, S, 3]`` RGB (SAM encoder input, padded with the pixel mean).
        boxes_xyxy: float32 ``[K, 4]`` true boxes in S-frame pixels (jitter is added per step).
        targets: uint8 ``[K, S/4, S/4]`` instance masks at the decoder's low-res grid, 0..255
            (area-averaged, so edges are soft).
        class_ids: int32 ``[K]`` what each prompt asks for (bed or load).
        bed_boxes: float32 ``[K, 4]`` S-frame box of the bed each instance belongs to (a bed's
            own box); training grows load boxes towards it, as the detector's load boxes do.
    """

    image: np.ndarray
    boxes_xyxy: np.ndarray
    targets: np.ndarray
    class_ids: np.ndarray
    bed_boxes: np.ndarray


def load_seg_dataset(root: Path) -> list[SegSample]:
    """Every image of ``root/images`` with its masks and instances; :class:`TrainError` when the
    folder lacks images or masks."""
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir():
        raise TrainError(
            f"data: {root} has no images/ folder; expected the 'loadcheck synth' layout "
            "(images/<stem>.jpg, masks/<stem>_bed.png, masks/<stem>_load.png, labels.json)"
        )
    images = sorted(p for p in images_dir.iterdir() if is_image_name(p.name))
    if not images:
        raise TrainError(f"data: {images_dir} holds no images (.jpg, .png, ...)")
    missing = [
        p.name
        for p in images
        if not (masks_dir / f"{p.stem}_bed.png").is_file()
        or not (masks_dir / f"{p.stem}_load.png").is_file()
    ]
    if missing:
        raise TrainError(
            f"data: {len(missing)} of {len(images)} images have no masks (first: {missing[0]}); "
            f"expected {masks_dir}/<stem>_bed.png and <stem>_load.png for every image"
        )
    boxes = _boxes_from_labels(root / "labels.json")
    samples = []
    for image in images:
        bed, load = masks_dir / f"{image.stem}_bed.png", masks_dir / f"{image.stem}_load.png"
        if boxes is not None:
            if f"images/{image.name}" not in boxes:
                raise TrainError(f"{root / 'labels.json'}: no record for images/{image.name}")
            xyxy, class_id = boxes[f"images/{image.name}"]
        else:
            xyxy, class_id = _boxes_from_masks(bed, load)
        samples.append(SegSample(image, bed, load, xyxy, class_id))
    if not any(len(s.xyxy) for s in samples):
        raise TrainError(f"data: no image of {root} has a bed or load instance to learn from")
    return samples


def _boxes_from_labels(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    if not path.is_file():
        return None
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
        result = {}
        for record in doc["images"]:
            xyxy, ids = [], []
            for class_id, name in enumerate(CLASS_NAMES):
                for box in record["boxes"].get(name, []):
                    xyxy.append([float(v) for v in box])
                    ids.append(class_id)
            result[str(record["file"])] = (
                np.asarray(xyxy, np.float32).reshape(-1, 4),
                np.asarray(ids, np.int32),
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainError(
            f"{path}: expected 'loadcheck synth' labels ({{'images': [{{'file', 'boxes': "
            f"{{'bed': [[x1, y1, x2, y2]...], 'load': [...]}}}}]}}): {exc!r}"
        ) from exc
    return result


def read_mask(path: Path) -> np.ndarray:
    """bool ``[H, W]`` of a mask image (:func:`loadcheck.imageio.read_mask`: non-zero = inside)."""
    try:
        return imageio.read_mask(path)
    except ImageDecodeError as exc:
        raise TrainError(f"{exc} (expected a 0/255 PNG)") from None


def _boxes_from_masks(bed: Path, load: Path) -> tuple[np.ndarray, np.ndarray]:
    xyxy, ids = [], []
    for class_id, path in ((BED_CLASS_ID, bed), (LOAD_CLASS_ID, load)):
        mask = read_mask(path).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for x, y, w, h, area in stats[1:count]:
            if area >= MIN_COMPONENT_SHARE * mask.size:
                xyxy.append([x, y, x + w, y + h])
                ids.append(class_id)
    return np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(ids, np.int32)


def region_for(xyxy: np.ndarray, image_wh: tuple[int, int], frame: str) -> SamRegion:
    """The serving step's region (:func:`loadcheck.pipeline.prompts.sam_region`) of these boxes:
    the whole frame, or their union grown by 10 % (clipped)."""
    boxes = Detections(xyxy, np.ones(len(xyxy), np.float32), np.zeros(len(xyxy), np.int32))
    return sam_region(boxes, image_wh, SamFrame(frame))


def _frame_mask(mask: np.ndarray, region: SamRegion, side: int) -> np.ndarray:
    """uint8 ``[side/4, side/4]`` 0..255: the region of a bool mask, framed as :func:`sam_input`
    frames the image, area-averaged to the decoder's low-res grid."""
    crop = mask[region.y0 : region.y0 + region.h, region.x0 : region.x0 + region.w]
    scale = region.scale(side)
    new_w = min(side, max(1, round(region.w * scale)))
    new_h = min(side, max(1, round(region.h * scale)))
    full = np.zeros((side, side), np.float32)
    full[:new_h, :new_w] = cv2.resize(
        crop.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    low = cv2.resize(full, (side // 4, side // 4), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(low * 255), 0, 255).astype(np.uint8)


def make_example(
    sample: SegSample,
    side: int,
    frame: str,
    pad_rgb: tuple[int, int, int],
    rng: np.random.Generator | None = None,
    max_boxes: int = 8,
    photometric: PhotometricAugment | None = None,
) -> SegExample:
    """The photo framed for SAM at ``side`` px with its instances' boxes and low-res targets.

    With ``rng`` (training from scratch): YOLOv6-style HSV jitter, ``photometric`` (the photo
    only; :mod:`loadcheck.train.augment`), a horizontal flip half the
    time (before framing) and a random subset of at most ``max_boxes`` instances; without, the first
    ``max_boxes`` instances (deterministic, cacheable).
    """
    rgb = read_rgb(sample.image, rng, photometric)
    unions = {BED_CLASS_ID: read_mask(sample.bed_mask), LOAD_CLASS_ID: read_mask(sample.load_mask)}
    h, w = rgb.shape[:2]
    if unions[BED_CLASS_ID].shape != (h, w) or unions[LOAD_CLASS_ID].shape != (h, w):
        raise TrainError(f"{sample.image.name}: masks are not the image's size {w}x{h}")
    all_xyxy = sample.xyxy.copy()
    if rng is not None and rng.random() < 0.5:  # horizontal flip of photo, masks and boxes
        rgb = np.ascontiguousarray(rgb[:, ::-1])
        unions = {k: np.ascontiguousarray(v[:, ::-1]) for k, v in unions.items()}
        all_xyxy[:, [0, 2]] = w - sample.xyxy[:, [2, 0]]
    all_xyxy, all_ids, all_beds = with_empty_loads(all_xyxy, sample.class_id)
    keep = np.arange(len(all_xyxy))
    if len(keep) > max_boxes:
        keep = rng.choice(keep, max_boxes, replace=False) if rng is not None else keep[:max_boxes]
    xyxy, ids = all_xyxy[keep], all_ids[keep]
    region = region_for(all_xyxy, (w, h), frame)
    targets = []
    for box, class_id in zip(xyxy, ids, strict=True):
        x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
        x2, y2 = int(np.ceil(box[2])), int(np.ceil(box[3]))
        instance = np.zeros((h, w), bool)
        instance[y1:y2, x1:x2] = unions[int(class_id)][y1:y2, x1:x2]
        targets.append(_frame_mask(instance, region, side))
    image = sam_input(rgb, region, side, pad_rgb)
    boxes = boxes_to_sam(xyxy, region, side)
    stack = np.stack(targets) if targets else np.zeros((0, side // 4, side // 4), np.uint8)
    beds = boxes_to_sam(all_beds[keep], region, side) if len(keep) else boxes
    return SegExample(image, boxes.astype(np.float32), stack, ids.astype(np.int32), beds)


def _owner_beds(xyxy: np.ndarray, class_id: np.ndarray) -> np.ndarray:
    """Index of the bed box each box belongs to (-1: none): a bed owns itself, a load belongs to
    the bed box that holds most of its area (at least half)."""
    owners = np.full(len(xyxy), -1, np.int64)
    beds = np.flatnonzero(class_id == BED_CLASS_ID)
    owners[beds] = beds
    for i in np.flatnonzero(class_id == LOAD_CLASS_ID):
        if not len(beds):
            break
        lo = np.maximum(xyxy[beds, :2], xyxy[i, :2])
        hi = np.minimum(xyxy[beds, 2:], xyxy[i, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        area = max(float(np.prod(xyxy[i, 2:] - xyxy[i, :2])), 1e-6)
        best = int(np.argmax(inter))
        if inter[best] >= 0.5 * area:
            owners[i] = beds[best]
    return owners


def with_empty_loads(
    xyxy: np.ndarray, class_id: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The instances plus one *load* prompt on every bed that holds no load (its target is the
    load mask inside the bed box: empty), so SAM learns to return nothing for a load prompt on an
    empty bed, the detector's commonest false load. Returns ``(xyxy, class_id, bed_xyxy)``, the
    bed box of each instance (its own box when it has no bed)."""
    owners = _owner_beds(xyxy, class_id)
    loaded = set(owners[(class_id == LOAD_CLASS_ID) & (owners >= 0)].tolist())
    empty = [int(i) for i in np.flatnonzero(class_id == BED_CLASS_ID) if int(i) not in loaded]
    boxes = np.concatenate([xyxy, xyxy[empty]]).astype(np.float32)
    ids = np.concatenate([class_id, np.full(len(empty), LOAD_CLASS_ID, np.int32)]).astype(np.int32)
    owner_all = np.concatenate([owners, np.asarray(empty, np.int64)])
    beds = np.where((owner_all >= 0)[:, None], xyxy[np.maximum(owner_all, 0)], boxes)
    return boxes, ids, beds.astype(np.float32)


def jitter_boxes(
    boxes_xyxy: np.ndarray, side: int, rng: np.random.Generator, std: float = 0.07
) -> np.ndarray:
    """Boxes with each edge moved by N(0, ``std`` x box side), clipped to 2 std and to the
    frame (SAM trains on such noisy boxes; the detector's boxes are never exact)."""
    if not len(boxes_xyxy):
        return boxes_xyxy
    wh = np.concatenate([boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]] * 2, axis=1)
    noise = np.clip(rng.normal(0.0, std, boxes_xyxy.shape), -2 * std, 2 * std) * wh
    out = np.clip(boxes_xyxy + noise, 0, side)
    out[:, 2:] = np.maximum(out[:, 2:], out[:, :2] + 1)
    return out.astype(np.float32)


def grow_towards(
    boxes_xyxy: np.ndarray, targets_xyxy: np.ndarray, rng: np.random.Generator, share: float
) -> np.ndarray:
    """Each box, with probability ``share``, moved a uniform random fraction of the way to its
    target box (load boxes towards their bed box: the detector's load box on a partly filled bed
    often comes out as large as the bed)."""
    if not len(boxes_xyxy):
        return boxes_xyxy
    t = rng.uniform(0.0, 1.0, (len(boxes_xyxy), 1)) * (rng.random((len(boxes_xyxy), 1)) < share)
    return (boxes_xyxy + t * (targets_xyxy - boxes_xyxy)).astype(np.float32)


def noisy_top_edges(
    boxes_xyxy: np.ndarray,
    rng: np.random.Generator,
    share: float,
    std: float,
    limit: float = TOP_NOISE_LIMIT,
) -> np.ndarray:
    """Boxes whose top edge, with probability ``share`` each, moves by N(0, ``std``) x the box's
    height, clipped to ``limit`` heights, kept 2 px above the bottom and inside the frame.

    On top of :func:`jitter_boxes`' noise this gives load prompts the detector's heavy tail: its
    load boxes' top edges are off by 0.04 load heights at the median but by 0.16 at the 90th
    percentile and 0.34 at the 2nd (a heap cut off, or a box as tall as the bed), beyond the
    0.14 that ``jitter_boxes`` reaches; a SAM that never saw such prompts follows the box.
    """
    out = boxes_xyxy.copy()
    if len(out):
        height = out[:, 3] - out[:, 1]
        moved = rng.random(len(out)) < share
        dy = np.clip(rng.normal(0.0, std, len(out)), -limit, limit) * height * moved
        out[:, 1] = np.clip(np.minimum(out[:, 1] + dy, out[:, 3] - 2), 0, None)
    return out.astype(np.float32)


def jitter_points(
    coords: np.ndarray, boxes_xyxy: np.ndarray, rng: np.random.Generator, std: float = 0.04
) -> np.ndarray:
    """Point prompts ``[K, 1, 2]`` moved by N(0, ``std`` x box side), clipped to the box."""
    if not len(coords):
        return coords
    wh = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]
    moved = coords[:, 0] + np.clip(rng.normal(0.0, std, wh.shape), -2 * std, 2 * std) * wh
    moved = np.clip(moved, boxes_xyxy[:, :2], boxes_xyxy[:, 2:])
    return moved[:, None, :].astype(np.float32)
