"""Occluders and the camera: lighting, dust haze, sensor noise and motion blur."""

from __future__ import annotations

import cv2
import numpy as np

from loadcheck.synth.geometry import TruckLayout
from loadcheck.synth.profiles import MAX_HEAP
from loadcheck.synth.textures import GRAIN, SMOOTH, colourise, noise

_LIGHTING = {  # gain, tint, haze colour, sensor noise
    "day": (1.0, (1.0, 1.0, 1.0), (0.8, 0.74, 0.62), 0.012),
    "dusk": (0.72, (1.08, 0.86, 0.72), (0.8, 0.6, 0.45), 0.02),
    "night": (0.3, (0.85, 0.9, 1.15), (0.16, 0.15, 0.14), 0.035),
}


def occluder_polygons(
    rng: np.random.Generator, size_wh: tuple[int, int], target: TruckLayout, kind: str
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Polygons (float [K, 2] each, as an object array) and a colour for the occluder."""
    w = size_wh[0]
    q = target.quad_xy
    length, height = target.rim_length_px, target.bed_height_px
    x_lo, x_hi = float(q[:, 0].min()), float(q[:, 0].max())
    cx = rng.uniform(x_lo + 0.1 * (x_hi - x_lo), x_hi - 0.1 * (x_hi - x_lo))
    if kind == "pole":
        half = rng.uniform(0.012, 0.03) * length + 1.0
        bottom = float(q[:, 1].max()) + rng.uniform(0.3, 1.0) * height
        pole = np.array(
            [[cx - half, -1.0], [cx + half, -1.0], [cx + half, bottom], [cx - half, bottom]]
        )
        lamp = np.array(
            [
                [cx - 4 * half, -1.0],
                [cx + 4 * half, -1.0],
                [cx + 4 * half, 3 * half],
                [cx - 4 * half, 3 * half],
            ]
        )
        return pole, lamp, (0.42, 0.42, 0.4)
    # A loader bucket hanging over the truck, on an arm from the top of the frame. It stays above
    # the highest possible heap (MAX_HEAP - 1 bed heights over the rim): hiding the top of the load
    # would make a full load look pitted while its label says otherwise.
    bw = rng.uniform(0.2, 0.32) * length
    bot = float(q[:, 1].min()) - (MAX_HEAP - 1.0 + rng.uniform(0.08, 0.3)) * height
    top = bot - rng.uniform(0.35, 0.55) * height
    bucket = np.array(
        [[cx - bw / 2, top], [cx + bw / 2, top], [cx + 0.35 * bw, bot], [cx - 0.35 * bw, bot]]
    )
    side = rng.choice([-1.0, 1.0])
    arm_w = 0.15 * bw
    ax = cx + side * rng.uniform(0.2, 0.5) * w
    arm = np.array(
        [[cx - arm_w, top + 1], [cx + arm_w, top + 1], [ax + arm_w, -1.0], [ax - arm_w, -1.0]]
    )
    return bucket, arm, (0.7, 0.55, 0.12)


def finish_image(
    rng: np.random.Generator, img: np.ndarray, lighting: str, haze: float, blur: int
) -> np.ndarray:
    """Lighting, dust haze, sensor noise, motion blur: float32 [H, W, 3] -> uint8 RGB."""
    h, w = img.shape[:2]
    gain, tint, haze_colour, sigma = _LIGHTING[lighting]
    if lighting == "night":  # a floodlight pool
        small = np.zeros((max(h // 8, 1), max(w // 8, 1)), np.float32)
        cy, cx = rng.uniform(0.2, 0.8) * small.shape[0], rng.uniform(0.1, 0.9) * small.shape[1]
        yy, xx = np.mgrid[0 : small.shape[0], 0 : small.shape[1]]
        r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (0.25 * small.shape[1]) ** 2
        small[:] = 1.0 + 2.2 * np.exp(-r2)
        flood = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        img = cv2.multiply(img, cv2.merge([flood] * 3))
    flat = img.reshape(h, w * 3)  # rows of interleaved RGB: fast row/column broadcasting
    flat *= np.tile(np.asarray(tint, np.float32) * np.float32(gain), w)[None, :]
    alpha = haze * np.linspace(1.0, 0.45, h, dtype=np.float32)[:, None]  # [H, 1]
    if haze > 0:  # dust: thicker towards the top (distance), in drifting patches
        patches = np.clip(1.0 + 0.6 * noise(rng, SMOOTH, h, w), 0.2, None)
        density = np.clip(patches * alpha, 0.0, 0.95)
        img = cv2.multiply(img, cv2.merge([1.0 - density] * 3))
        img = cv2.add(img, colourise(density, np.asarray(haze_colour, np.float32)))
    grain = noise(rng, GRAIN, h, w) * np.float32(sigma)
    img = cv2.add(img, cv2.merge([grain] * 3))
    out = cv2.convertScaleAbs(img, alpha=255.0)
    if blur > 1:
        out = cv2.blur(out, (blur, 1))
    return out
