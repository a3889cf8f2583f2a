"""``dust``: an articulated dump truck of any paint in a dusty, washed-out waste dump, seen from a
turned camera through a pincushion-or-none lens.

A pale beige sky fading into airborne dust, smooth waste-dump hills, fence posts and shipping
containers; bodies of any hue with a two-tone stripe and a fleet number plate; a bed whose tail
slopes up past the floor, a separate front unit behind an articulation gap and a tandem axle;
strong desaturation, washed-out contrast and a slight defocus.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from loadcheck.synth.geometry import BedRaster
from loadcheck.synth.styles.camera import Camera, random_camera
from loadcheck.synth.styles.compose import (
    RGB,
    Backdrop,
    Body,
    BodyPart,
    rect,
    rim_height,
    window_rows,
)
from loadcheck.synth.textures import GRAIN, MEDIUM, SMOOTH, colourise, noise

_MINERAL = {
    "coal": (0.16, 0.15, 0.15),
    "iron_ore": (0.52, 0.33, 0.24),
    "limestone": (0.8, 0.76, 0.68),
}
_CONTAINERS: tuple[RGB, ...] = (
    (0.6, 0.2, 0.15),
    (0.15, 0.3, 0.55),
    (0.2, 0.45, 0.3),
    (0.7, 0.6, 0.2),
)


def _paint(rng: np.random.Generator) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(
        float(rng.uniform(0, 1)), float(rng.uniform(0.3, 0.9)), float(rng.uniform(0.45, 0.95))
    )
    return (r, g, b)


class DustStyle:
    """Dusty waste dump, articulated dump truck of any paint, turned camera."""

    name = "dust"
    summary = "dusty desaturated waste dump, articulated dump truck, any paint, turned camera"

    def camera(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Camera:
        return random_camera(
            rng,
            size_wh,
            focal=(0.7, 1.1),
            pitch_deg=(0.0, 11.0),
            yaw_deg=(10.0, 30.0),
            k1=(-0.12, 0.0),
        )

    def backdrop(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Backdrop:
        w, h = size_wh
        ground = rng.uniform(0.35, 0.55) * h
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        sky_top = np.array([0.78, 0.74, 0.66], np.float32)
        sky_low = np.array([0.9, 0.84, 0.72], np.float32)
        img = np.ascontiguousarray(np.broadcast_to(sky_top + (sky_low - sky_top) * t, (h, w, 3)))
        xs = np.arange(w, dtype=np.float64)
        for k in range(int(rng.integers(2, 4))):  # waste-dump hills, nearer ones darker
            base = ground - rng.uniform(0.02, 0.2) * h * (1.0 - 0.3 * k)
            hill = (
                base
                - rng.uniform(0.03, 0.12)
                * h
                * np.sin(np.pi * (xs / w * rng.uniform(0.5, 1.5) + rng.uniform(0, 1))) ** 2
            )
            poly = np.concatenate([np.c_[xs, hill], [[w, h], [0, h]]])
            tone = np.array([0.7, 0.62, 0.5]) * (1.0 - 0.08 * k)
            cv2.fillPoly(img, [np.round(poly).astype(np.int32)], tuple(float(c) for c in tone))
        g0 = int(ground)
        dirt = 0.62 * (
            1.0 + 0.12 * noise(rng, SMOOTH, h - g0, w) + 0.05 * noise(rng, GRAIN, h - g0, w)
        )
        img[g0:] = cv2.merge([dirt * 1.0, dirt * 0.9, dirt * 0.75])
        for _ in range(int(rng.integers(0, 3))):  # containers
            x0, bw = rng.uniform(0, w), rng.uniform(0.08, 0.16) * w
            bh = 0.4 * bw
            colour = _CONTAINERS[int(rng.integers(len(_CONTAINERS)))]
            cv2.rectangle(img, (int(x0), int(ground - bh)), (int(x0 + bw), int(ground)), colour, -1)
        step = rng.uniform(0.04, 0.08) * w  # a fence line
        y_f = ground + rng.uniform(-0.02, 0.04) * h
        for x in np.arange(rng.uniform(0, step), w, step):
            cv2.line(img, (int(x), int(y_f - 0.05 * h)), (int(x), int(y_f)), (0.35, 0.3, 0.25), 2)
        cv2.line(img, (0, int(y_f - 0.04 * h)), (w, int(y_f - 0.04 * h)), (0.4, 0.35, 0.3), 1)
        return Backdrop(img, float(ground), "dusty", "waste_dump")

    def body(self, rng: np.random.Generator, rim_length_px: float) -> Body:
        ln = rim_length_px
        ht = ln * rng.uniform(0.28, 0.4)
        paint = _paint(rng)
        stripe = _paint(rng)
        tail = rng.uniform(0.1, 0.25) * ln  # the tail slopes up past the floor
        front = rng.uniform(0.0, 0.06) * ln
        quad = np.array(
            [[0.0, 0.0], [ln, -rng.uniform(0.0, 0.08) * ht], [ln - tail, ht], [front, ht]]
        )
        wheel_r = rng.uniform(0.38, 0.5) * ht
        gap = rng.uniform(0.05, 0.1) * ln
        unit_w = rng.uniform(0.22, 0.3) * ln
        unit_x1 = -gap
        unit_x0 = unit_x1 - unit_w
        cab_top = -rng.uniform(0.1, 0.45) * ht
        frame_y = ht + 0.15 * ht
        parts = [
            BodyPart(rect(unit_x0, ht - 0.1 * ht, 0.9 * ln, frame_y), (0.14, 0.13, 0.12)),
            BodyPart(rect(unit_x0, 0.35 * ht, unit_x1, frame_y), paint),  # engine hood
            BodyPart(
                rect(unit_x0 + 0.35 * unit_w, cab_top, unit_x1 - 0.05 * unit_w, 0.4 * ht), paint
            ),
            BodyPart(
                rect(
                    unit_x0 + 0.42 * unit_w, cab_top + 0.08 * ht, unit_x1 - 0.12 * unit_w, 0.15 * ht
                ),
                (0.3, 0.34, 0.36),
            ),
            BodyPart(
                np.array(
                    [
                        quad[0] + (-0.02 * ln, -0.04 * ht),
                        quad[1] + (0.02 * ln, -0.04 * ht),
                        quad[2] + (0.02 * ln, 0.06 * ht),
                        quad[3] + (-0.02 * ln, 0.06 * ht),
                    ]
                ),
                paint,
            ),
            BodyPart(
                np.array(
                    [
                        quad[3] + (-0.02 * ln, 0.0),
                        quad[2] + (0.02 * ln, 0.0),
                        quad[2] + (0.02 * ln, 0.06 * ht),
                        quad[3] + (-0.02 * ln, 0.06 * ht),
                    ]
                ),
                stripe,
            ),
            BodyPart(
                rect(unit_x0 + 0.05 * unit_w, 0.55 * ht, unit_x0 + 0.3 * unit_w, 0.7 * ht),
                (0.95, 0.95, 0.9),
            ),  # fleet number plate
        ]
        wy = frame_y + 0.5 * wheel_r
        for x in (unit_x0 + 0.5 * unit_w, 0.45 * ln, 0.45 * ln + 2.15 * wheel_r):
            parts.append(
                BodyPart(np.array([[x, wy], [wheel_r, wheel_r]]), (0.08, 0.07, 0.07), True)
            )
            parts.append(
                BodyPart(
                    np.array([[x, wy], [0.5 * wheel_r, 0.5 * wheel_r]]), (0.55, 0.5, 0.4), True
                )
            )
        return Body(quad, tuple(parts), paint)

    def bed_and_load(
        self,
        rng: np.random.Generator,
        window: np.ndarray,
        raster: BedRaster,
        paint: RGB,
        mineral: str,
    ) -> None:
        h, w = window.shape[:2]
        yc = window_rows(raster, h)
        height = rim_height(raster)
        rel = np.clip((yc - raster.y_rim[None, :].astype(np.float32)) / height, 0.0, 1.0)
        dusty = np.asarray(paint, np.float32) * 0.5 + np.float32(0.35) * np.array(
            [0.8, 0.72, 0.6], np.float32
        )
        shade = 0.7 + 0.25 * rel + 0.06 * noise(rng, SMOOTH, h, w)  # dust settles low
        bed = colourise(shade, dusty)
        window[raster.bed] = bed[raster.bed]
        if raster.load.any():
            base = np.asarray(_MINERAL[mineral], np.float32)
            lumps = noise(rng, MEDIUM, h, w)
            crev = np.exp(-3.0 * lumps * lumps)
            tex = colourise(1.05 - 0.3 * crev + 0.08 * noise(rng, GRAIN, h, w), base, 0.08 * crev)
            window[raster.load] = tex[raster.load]

    def occluder_colour(self, kind: str) -> RGB:
        return (0.5, 0.45, 0.38) if kind == "pole" else (0.85, 0.7, 0.15)

    def finish(self, rng: np.random.Generator, image: np.ndarray, backdrop: Backdrop) -> np.ndarray:
        h, w = image.shape[:2]
        grey = image.mean(axis=2, keepdims=True)
        keep = np.float32(rng.uniform(0.3, 0.6))
        out = image * keep + grey * (1.0 - keep)
        dust = np.array([0.82, 0.75, 0.62], np.float32)
        haze = (
            np.float32(rng.uniform(0.15, 0.4))
            * np.linspace(1.0, 0.5, h, dtype=np.float32)[:, None, None]
        )
        out = out * (1.0 - haze) + dust * haze
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.1)))
        out += (noise(rng, GRAIN, h, w) * np.float32(0.015))[:, :, None]
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def jpeg_quality(self, rng: np.random.Generator) -> int:
        return int(rng.integers(60, 93))
