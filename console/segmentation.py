"""The Segment images page's operations: read an upload, segment it with the served
``segmentator`` (:class:`loadcheck.integrators.served.ServedSegmentator`, as the CLI), draw the
overlays and export the detections as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from loadcheck.imageio import ImageDecodeError, decode_image
from loadcheck.integrators.errors import IngestError, IntegratorError
from loadcheck.integrators.ingest import ArchiveImage, read_image_archive
from loadcheck.integrators.served import ServedSegmentator
from loadcheck.payloads import CLASS_NAMES, Detections, SegmentationMasks

#: RGB colours of the classes (bed blue, load orange), as the client's overlays.
SEGMENT_COLORS: dict[int, tuple[int, int, int]] = {0: (40, 120, 255), 1: (255, 150, 20)}
_OTHER = (200, 200, 200)


@dataclass(frozen=True)
class SegmentedImage:
    """One image of an upload and what the segmentator found on it.

    ``detections`` / ``masks`` are in original-image pixels (masks uint8 ``[N, H, W]``);
    ``error`` is set (and the others empty) when the server refused the image.
    """

    name: str
    data: bytes
    detections: Detections | None
    masks: SegmentationMasks | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready detections (no masks): boxes xyxy in pixels, class names, scores."""
        out: dict[str, Any] = {"image": self.name}
        if self.error is not None or self.detections is None:
            out["error"] = self.error
            return out
        d = self.detections
        out["detections"] = [
            {
                "xyxy": [round(float(v), 2) for v in box],
                "class_id": int(cls),
                "class_name": CLASS_NAMES[int(cls)]
                if 0 <= int(cls) < len(CLASS_NAMES)
                else str(cls),
                "confidence": round(float(conf), 4),
                "mask_iou": None
                if self.masks is None or i >= len(self.masks)
                else round(float(self.masks.iou_prediction[i]), 4),
            }
            for i, (box, cls, conf) in enumerate(zip(d.xyxy, d.class_id, d.confidence, strict=True))
        ]
        return out


def read_upload(path: Path, label: str, max_images: int) -> list[ArchiveImage]:
    """The images of an uploaded zip (legacy flat layout), at most ``max_images``.

    Raises:
        IngestError: the archive is unusable (see :func:`read_image_archive`) or holds more
            than ``max_images`` images.
    """
    report = read_image_archive(path, label)
    if len(report.images) > max_images:
        raise IngestError(
            f"{label}: {len(report.images)} images; at most {max_images} per upload are "
            "accepted here (split the zip, or use `loadcheck inspect` for large batches)"
        )
    return report.images


def segment_upload(
    segmentator: ServedSegmentator,
    images: list[ArchiveImage],
    progress: Callable[[int, int], None] | None = None,
) -> list[SegmentedImage]:
    """Segment every image; an image the server refuses gets its message in ``error``."""
    out = []
    for i, img in enumerate(images):
        try:
            detections, masks = segmentator.segment_raw(img.data)
            out.append(SegmentedImage(img.name, img.data, detections, masks))
        except IntegratorError as exc:
            out.append(SegmentedImage(img.name, img.data, None, None, str(exc)))
        if progress:
            progress(i + 1, len(images))
    return out


def detections_json(items: list[SegmentedImage]) -> str:
    return json.dumps([item.to_dict() for item in items], indent=2) + "\n"


def draw_segmentation(item: SegmentedImage, max_side: int = 640) -> np.ndarray:
    """RGB uint8 ``[h, w, 3]``: masks blended in class colours, boxes with class and score,
    resized so the longest side is at most ``max_side`` pixels."""
    try:
        canvas = decode_image(item.data)
    except ImageDecodeError as exc:
        raise IngestError(f"{item.name}: {exc}") from None
    h, w = canvas.shape[:2]
    width = max(1, round(min(h, w) / 300))
    if item.masks is not None and item.detections is not None:
        for mask, cls in zip(item.masks.mask_hw, item.detections.class_id, strict=False):
            m = mask.astype(bool)
            if m.shape != (h, w):
                m = cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            tint = np.array(SEGMENT_COLORS.get(int(cls), _OTHER), np.float32)
            canvas[m] = (0.55 * canvas[m] + 0.45 * tint).astype(np.uint8)
    if item.detections is not None:
        d = item.detections
        for box, cls, conf in zip(d.xyxy, d.class_id, d.confidence, strict=True):
            color = SEGMENT_COLORS.get(int(cls), _OTHER)
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, width)
            name = CLASS_NAMES[int(cls)] if 0 <= int(cls) < len(CLASS_NAMES) else str(cls)
            cv2.putText(
                canvas,
                f"{name} {float(conf):.2f}",
                (x1 + 2, max(12, y1 - 4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * width,
                color,
                width,
                cv2.LINE_AA,
            )
    scale = max_side / max(h, w)
    if scale < 1:
        canvas = cv2.resize(
            canvas, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
    return np.asarray(canvas)
