"""The rendered scene and its ground truth: the stable API other components read.

``Scene.trucks`` is ordered most prominent (largest visible bed) first. Masks are bool ``[H, W]``
at the image resolution and hold *visible* pixels: what a nearer truck or an occluder hides is in
neither mask. ``fill_level``, ``pit_depth`` and ``balance`` are the truths of the unoccluded
geometry (see :mod:`loadcheck.synth.rules` and :mod:`loadcheck.synth.geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from loadcheck.payloads import CLASS_NAMES, LoadClass, TruckMasks, Verdict

XYXY = tuple[float, float, float, float]


def scene_stem(seed: int, index: int) -> str:
    """File stem of scene ``index`` of seed ``seed``: ``s<seed>_<index:06d>``."""
    return f"s{seed}_{index:06d}"


def mask_xyxy(mask: np.ndarray) -> XYXY | None:
    """Tight box ``(x1, y1, x2, y2)`` around the True pixels of a bool ``[H, W]`` mask.

    Pixel edges, not centres: ``x2 = last column + 1`` so ``x2 - x1`` is the width in pixels.
    ``None`` when the mask is empty.
    """
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def _round_box(box: XYXY | None) -> list[float] | None:
    return None if box is None else [round(v, 2) for v in box]


@dataclass(frozen=True)
class SynthTruck:
    """Ground truth of one truck in a scene.

    Attributes:
        bed_mask: bool ``[H, W]`` visible bed (carriage, floor to rim, where load sits included).
        load_mask: bool ``[H, W]`` visible mineral (inside the bed and heaped above the rim).
        bed_xyxy: box of ``bed_mask`` in pixels (pixel edges).
        load_xyxy: box of ``load_mask``, ``None`` when no load pixel is visible.
        fill_level: share of the bed's loadable area covered by load, [0, 1] (unoccluded masks).
        pit_depth: deepest hollow of the load's top, in bed heights.
        balance: back-half minus front-half mean load height, in bed heights.
        label: this truck's verdict by :func:`loadcheck.synth.rules.truck_verdict`.
        view / facing / load_shape / mineral: how it was drawn.
        profile: float64 ``[STATIONS]`` load height along the bed (front first), bed heights.
        quad_xy: float64 ``[4, 2]`` bed corners (rim front, rim back, floor back, floor front).
        occluded_share: share of the bed hidden by nearer trucks or an occluder, [0, 1].
    """

    bed_mask: np.ndarray
    load_mask: np.ndarray
    bed_xyxy: XYXY
    load_xyxy: XYXY | None
    fill_level: float
    pit_depth: float
    balance: float
    label: Verdict
    view: str
    facing: str
    load_shape: str
    mineral: str
    profile: np.ndarray
    quad_xy: np.ndarray
    occluded_share: float

    @property
    def has_load(self) -> bool:
        return self.label is not Verdict.NO_MINE_DETECTED

    def to_truck_masks(self) -> TruckMasks:
        """The payload the feature extractor takes (confidences and IoUs of 1: exact masks)."""
        return TruckMasks(self.bed_mask, self.load_mask, self.bed_xyxy, self.load_xyxy)

    def to_record(self) -> dict[str, Any]:
        return {
            "bed_xyxy": _round_box(self.bed_xyxy),
            "load_xyxy": _round_box(self.load_xyxy),
            "fill_level": round(self.fill_level, 4),
            "pit_depth": round(self.pit_depth, 4),
            "balance": round(self.balance, 4),
            "label": self.label.value,
            "view": self.view,
            "facing": self.facing,
            "load_shape": self.load_shape,
            "mineral": self.mineral,
            "occluded_share": round(self.occluded_share, 4),
            "quad_xy": [[round(float(v), 2) for v in p] for p in self.quad_xy],
        }


@dataclass(frozen=True)
class Scene:
    """One rendered scene and its truth.

    Attributes:
        seed / index / stem: identity; the scene is a pure function of (seed, index, size,
            overrides).
        image_rgb: uint8 ``[H, W, 3]`` RGB image before JPEG encoding.
        bed_mask / load_mask: bool ``[H, W]`` unions over all trucks.
        trucks: most prominent (largest visible bed) first.
        label: the image label (verdict of the most prominent loaded truck).
        fill_level / pit_depth / balance: those of the truck that gives the label (of the most
            prominent truck when none is loaded; 0 without trucks).
        view / lighting / background / mineral / occluder: how it was drawn.
        haze: dust-haze strength in [0, 1); motion_blur_px: horizontal blur length (0 = none).
        jpeg_quality: the quality the image is encoded with on disk.
        style: the scene style that drew it (:mod:`loadcheck.synth.styles`).
    """

    seed: int
    index: int
    stem: str
    image_rgb: np.ndarray
    bed_mask: np.ndarray
    load_mask: np.ndarray
    trucks: tuple[SynthTruck, ...]
    label: Verdict
    fill_level: float
    pit_depth: float
    balance: float
    view: str
    lighting: str
    background: str
    mineral: str
    occluder: str
    haze: float
    motion_blur_px: int
    jpeg_quality: int
    style: str = "classic"

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.image_rgb.shape[1]), int(self.image_rgb.shape[0])

    @property
    def truck_count(self) -> int:
        return len(self.trucks)

    def boxes(self) -> dict[str, list[XYXY]]:
        """Boxes per class name (``bed``, ``load``), trucks in prominence order."""
        beds = [t.bed_xyxy for t in self.trucks]
        loads = [t.load_xyxy for t in self.trucks if t.load_xyxy is not None]
        return {LoadClass.BED.value: beds, LoadClass.LOAD.value: loads}

    def yolo_lines(self) -> list[str]:
        """YOLO label lines ``class cx cy w h`` (normalised to [0, 1]), class ids of
        :data:`loadcheck.payloads.CLASS_NAMES`."""
        w, h = self.size_wh
        lines = []
        for class_id, name in enumerate(CLASS_NAMES):
            for x1, y1, x2, y2 in self.boxes()[name]:
                lines.append(
                    f"{class_id} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                    f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
                )
        return lines

    def encode_jpeg(self) -> bytes:
        """The image as baseline JPEG bytes at ``jpeg_quality`` (deterministic parameters)."""
        params = [
            cv2.IMWRITE_JPEG_QUALITY,
            self.jpeg_quality,
            cv2.IMWRITE_JPEG_OPTIMIZE,
            0,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            0,
        ]
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(self.image_rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for scene {self.stem}")
        return buf.tobytes()

    def to_record(self, file: str) -> dict[str, Any]:
        """The ``labels.json`` record of this scene stored as ``file``."""
        return {
            "file": file,
            "label": self.label.value,
            "fill_level": round(self.fill_level, 4),
            "pit_depth": round(self.pit_depth, 4),
            "balance": round(self.balance, 4),
            "view": self.view,
            "truck_count": self.truck_count,
            "boxes": {k: [_round_box(b) for b in v] for k, v in self.boxes().items()},
            "trucks": [t.to_record() for t in self.trucks],
            "lighting": self.lighting,
            "background": self.background,
            "mineral": self.mineral,
            "occluder": self.occluder,
            "haze": round(self.haze, 4),
            "motion_blur_px": self.motion_blur_px,
            "jpeg_quality": self.jpeg_quality,
            "style": self.style,
            "seed": self.seed,
            "index": self.index,
        }
