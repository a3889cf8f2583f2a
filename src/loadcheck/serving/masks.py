"""SAM low-resolution mask logits to binary masks at the original resolution (pure functions)."""

from __future__ import annotations

import cv2
import numpy as np

from loadcheck.serving.prompts import SamRegion


def upsample_masks(
    low_res_logits: np.ndarray, region: SamRegion, image_wh: tuple[int, int], side: int
) -> np.ndarray:
    """Binary uint8 ``[K, H, W]`` masks (0/1) in original-image pixels.

    As segment-anything's ``postprocess_masks``: logits ``[K, 1, side/4, side/4]`` are resized
    bilinearly to ``side x side``, the padding is cropped away, the rest is resized to the region's
    size, pasted at the region's place and thresholded at 0.
    """
    logits = np.asarray(low_res_logits, np.float32)
    if logits.ndim == 4:
        logits = logits[:, 0]
    if logits.ndim != 3:
        raise ValueError(f"low_res_masks: expected float32 [K, 1, h, w], got {logits.shape}")
    w, h = image_wh
    out = np.zeros((len(logits), h, w), np.uint8)
    scale = region.scale(side)
    valid_w = min(side, max(1, round(region.w * scale)))
    valid_h = min(side, max(1, round(region.h * scale)))
    for k, low in enumerate(logits):
        full = cv2.resize(low, (side, side), interpolation=cv2.INTER_LINEAR)
        region_logits = cv2.resize(
            full[:valid_h, :valid_w], (region.w, region.h), interpolation=cv2.INTER_LINEAR
        )
        out[k, region.y0 : region.y0 + region.h, region.x0 : region.x0 + region.w] = (
            region_logits > 0
        )
    return out
