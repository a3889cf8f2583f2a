"""Draw an inspection result on its photo: bed and load masks, boxes, verdict and key features."""

from __future__ import annotations

import cv2
import numpy as np

from loadcheck.client.images import ImageInput, decode_rgb
from loadcheck.payloads import (
    BED_CLASS_ID,
    CLASS_NAMES,
    LOAD_CLASS_ID,
    InspectionResult,
    Verdict,
)

# RGB colours.
CLASS_COLORS: dict[int, tuple[int, int, int]] = {
    BED_CLASS_ID: (40, 120, 255),  # blue: the truck bed
    LOAD_CLASS_ID: (255, 150, 20),  # orange: the mineral load
}
OTHER_COLOR = (200, 200, 200)
VERDICT_COLORS: dict[Verdict, tuple[int, int, int]] = {
    Verdict.QUALIFIED: (30, 160, 60),
    Verdict.UNQUALIFIED: (210, 40, 40),
    Verdict.NO_MINE_DETECTED: (110, 110, 110),
}
#: Features written on the overlay when the result has them (in this order), then the first
#: others up to :data:`MAX_FEATURE_LINES`.
KEY_FEATURE_WORDS: tuple[str, ...] = ("fullness", "roughness", "volume")
MAX_FEATURE_LINES = 5
MASK_ALPHA = 0.45


def _key_features(result: InspectionResult) -> list[tuple[str, float]]:
    if result.features is None:
        return []
    items = list(result.features.as_dict().items())
    key = [(n, v) for word in KEY_FEATURE_WORDS for n, v in items if word in n]
    seen = {n for n, _ in key}
    ordered = list(dict.fromkeys(key)) + [(n, v) for n, v in items if n not in seen]
    return ordered[:MAX_FEATURE_LINES]


def _text_block(
    canvas: np.ndarray,
    lines: list[str],
    origin_xy: tuple[int, int],
    scale: float,
    background: tuple[int, int, int],
) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    sizes = [cv2.getTextSize(line, font, scale, thickness) for line in lines]
    line_h = max(h + base for (_, h), base in sizes) + max(2, round(4 * scale))
    width = max(w for (w, _), _ in sizes) + round(16 * scale)
    x, y = origin_xy
    height = line_h * len(lines) + round(8 * scale)
    x2, y2 = min(canvas.shape[1] - 1, x + width), min(canvas.shape[0] - 1, y + height)
    region = canvas[y:y2, x:x2]
    region[:] = (0.35 * region + 0.65 * np.array(background, np.float32)).astype(np.uint8)
    for i, line in enumerate(lines):
        baseline_y = y + round(6 * scale) + line_h * (i + 1) - sizes[i][1]
        cv2.putText(
            canvas,
            line,
            (x + round(8 * scale), baseline_y),
            font,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )


def render_overlay(image: ImageInput, result: InspectionResult) -> np.ndarray:
    """Draw ``result`` on ``image``; returns a new RGB uint8 ``[H, W, 3]`` array.

    Masks (when the result has them) are blended in their class colour (bed blue, load orange)
    with their outline; boxes carry ``class confidence``; a banner in the verdict's colour
    (green Qualified, red Unqualified, grey No Mine Detected) holds the verdict, probability,
    threshold and the key features (fullness, roughness, volume first).

    Masks whose resolution differs from the image's are resized (nearest neighbour).
    """
    canvas = decode_rgb(image).copy()
    h, w = canvas.shape[:2]
    scale = max(0.4, min(w, h) / 900.0)
    line_width = max(1, round(2 * scale))
    class_ids = result.detections.class_id
    if result.masks is not None and len(result.masks):
        for i, mask in enumerate(result.masks.mask_hw):
            if mask.shape != (h, w):
                mask = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            mask = mask.astype(bool)
            cls = int(class_ids[i]) if i < len(class_ids) else -1
            rgb = CLASS_COLORS.get(cls, OTHER_COLOR)
            blend = MASK_ALPHA * np.array(rgb, np.float32)
            canvas[mask] = ((1 - MASK_ALPHA) * canvas[mask] + blend).astype(np.uint8)
            contours, _ = cv2.findContours(
                mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            cv2.drawContours(canvas, contours, -1, rgb, line_width)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for xyxy, conf, cls in zip(
        result.detections.xyxy, result.detections.confidence, class_ids, strict=True
    ):
        color = CLASS_COLORS.get(int(cls), OTHER_COLOR)
        x1, y1, x2, y2 = (round(float(v)) for v in xyxy)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, line_width)
        name = CLASS_NAMES[int(cls)] if 0 <= int(cls) < len(CLASS_NAMES) else f"class {int(cls)}"
        cv2.putText(
            canvas,
            f"{name} {float(conf):.2f}",
            (x1 + 2, max(y1 - 4, round(14 * scale))),
            font,
            0.6 * scale,
            color,
            max(1, round(1.5 * scale)),
            cv2.LINE_AA,
        )
    lines = [
        result.score_result.value,
        f"p={result.probability:.3f}  threshold={result.threshold:.3f}",
    ]
    lines += [f"{name}: {value:.3g}" for name, value in _key_features(result)]
    _text_block(
        canvas,
        lines,
        (round(8 * scale), round(8 * scale)),
        0.7 * scale,
        VERDICT_COLORS[result.score_result],
    )
    return canvas


def write_overlay(path: str, rgb: np.ndarray) -> None:
    """Write an RGB overlay as an image file (format from the extension, e.g. ``.png``)."""
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write overlay image {path}")
