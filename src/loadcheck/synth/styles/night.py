"""``night``: a tipper semi-trailer under floodlights at night, seen from a high camera.

Near-black surroundings lit by two or three floodlight pools (sodium orange or cold LED white),
light masts with glare in the distance, parked machinery silhouettes; a long, low aluminium tipper
trailer behind a short tractor unit with many small wheels; strong coloured sensor noise and
heavy JPEG compression.
"""

from __future__ import annotations

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

_CAB_PAINTS: tuple[RGB, ...] = (
    (0.1, 0.25, 0.7),
    (0.8, 0.1, 0.1),
    (0.9, 0.9, 0.9),
    (0.15, 0.5, 0.2),
)
_LAMPS: tuple[RGB, ...] = ((1.0, 0.72, 0.38), (0.85, 0.92, 1.0))
_MINERAL = {
    "coal": (0.05, 0.05, 0.06),
    "iron_ore": (0.5, 0.25, 0.16),
    "limestone": (0.85, 0.82, 0.76),
}


class NightStyle:
    """Floodlit night yard, tipper semi-trailer, high camera."""

    name = "night"
    summary = "floodlit night yard, tipper semi-trailer, high camera, heavy noise"

    def camera(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Camera:
        return random_camera(
            rng,
            size_wh,
            focal=(0.9, 1.5),
            pitch_deg=(13.0, 26.0),
            yaw_deg=(0.0, 14.0),
            k1=(-0.03, 0.1),
        )

    def backdrop(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Backdrop:
        w, h = size_wh
        ground = rng.uniform(0.15, 0.35) * h
        img = np.empty((h, w, 3), np.float32)
        img[:] = (0.02, 0.02, 0.035)
        g0 = int(ground)
        tarmac = np.float32(0.09) * (1.0 + 0.25 * noise(rng, SMOOTH, h - g0, w))
        img[g0:] = cv2.merge([tarmac * 0.95, tarmac, tarmac * 1.05])
        for _ in range(int(rng.integers(3, 8))):  # tyre tracks
            y = rng.uniform(ground, h)
            pts = np.array([[0, y], [w, y + rng.uniform(-0.1, 0.1) * h]])
            cv2.line(
                img,
                tuple(np.round(pts[0]).astype(int)),
                tuple(np.round(pts[1]).astype(int)),
                (0.04, 0.04, 0.045),
                max(2, int(0.01 * h)),
            )
        for _ in range(int(rng.integers(1, 4))):  # machinery silhouettes on the horizon
            x0 = rng.uniform(0, w)
            bw, bh = rng.uniform(0.08, 0.2) * w, rng.uniform(0.05, 0.12) * h
            cv2.rectangle(
                img,
                (int(x0), int(ground - bh)),
                (int(x0 + bw), int(ground + 2)),
                (0.05, 0.05, 0.05),
                -1,
            )
        for _ in range(int(rng.integers(1, 4))):  # distant light masts with glare
            x = rng.uniform(0.05, 0.95) * w
            top = rng.uniform(0.02, 0.6) * ground
            cv2.line(img, (int(x), int(top)), (int(x), int(ground)), (0.12, 0.12, 0.12), 2)
            lamp = _LAMPS[int(rng.integers(len(_LAMPS)))]
            cv2.circle(
                img, (int(x), int(top)), max(2, int(0.012 * w)), tuple(float(c) for c in lamp), -1
            )
        return Backdrop(img, float(ground), "floodlit_night", "night_yard")

    def body(self, rng: np.random.Generator, rim_length_px: float) -> Body:
        ln = rim_length_px
        ht = ln * rng.uniform(0.17, 0.28)
        alu = float(rng.uniform(0.6, 0.75))
        paint: RGB = (alu, alu, alu * 1.03)
        cab_paint = _CAB_PAINTS[int(rng.integers(len(_CAB_PAINTS)))]
        quad = np.array([[0.0, 0.0], [ln, 0.0], [ln, ht], [0.02 * ln, ht]])
        chassis_y = ht + 0.12 * ht
        wheel_r = rng.uniform(0.3, 0.4) * ht
        cab_w = rng.uniform(0.16, 0.22) * ln
        cab_top = -rng.uniform(0.2, 0.6) * ht
        gap = 0.04 * ln
        cab_x1 = -gap
        cab_x0 = cab_x1 - cab_w
        ribs = int(rng.integers(5, 10))
        parts = [
            BodyPart(rect(cab_x0, ht, ln, chassis_y), (0.08, 0.08, 0.08)),
            BodyPart(rect(cab_x0, cab_top, cab_x1, chassis_y), cab_paint),
            BodyPart(
                rect(
                    cab_x0 + 0.08 * cab_w,
                    cab_top + 0.1 * ht,
                    cab_x0 + 0.55 * cab_w,
                    cab_top + 0.5 * (chassis_y - cab_top),
                ),
                (0.15, 0.2, 0.3),
            ),
            BodyPart(
                np.array(
                    [
                        quad[0] + (0.0, -0.03 * ht),
                        quad[1] + (0.01 * ln, -0.03 * ht),
                        quad[2] + (0.01 * ln, 0.06 * ht),
                        quad[3] + (0.0, 0.06 * ht),
                    ]
                ),
                tuple(0.7 * c for c in paint),
            ),
        ]
        for k in range(ribs + 1):  # outer ribs peeking out above the rim line
            x = ln * k / ribs
            parts.append(
                BodyPart(
                    rect(x - 0.006 * ln, -0.03 * ht, x + 0.006 * ln, 0.0),
                    tuple(0.5 * c for c in paint),
                )
            )
        wy = chassis_y + 0.6 * wheel_r
        axles = [cab_x0 + 0.3 * cab_w, cab_x0 + 0.75 * cab_w]
        axles += [ln * f for f in (0.68, 0.78, 0.88)][: int(rng.integers(2, 4))]
        for x in axles:
            parts.append(
                BodyPart(np.array([[x, wy], [wheel_r, wheel_r]]), (0.03, 0.03, 0.03), True)
            )
            parts.append(
                BodyPart(
                    np.array([[x, wy], [0.4 * wheel_r, 0.4 * wheel_r]]), (0.5, 0.5, 0.52), True
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
        ribs = (np.modf(raster.u * rng.integers(8, 16))[0] < 0.12).astype(np.float32)[None, :]
        shade = 0.55 + 0.3 * ribs + 0.08 * noise(rng, SMOOTH, h, w)
        bed = colourise(shade, np.asarray(paint, np.float32))
        window[raster.bed] = bed[raster.bed]
        if raster.load.any():
            yc = window_rows(raster, h)
            depth = np.maximum(yc - raster.y_load[None, :].astype(np.float32), 0.0)
            rim_h = rim_height(raster)
            spec = 0.8 * np.exp(-depth / (0.05 * rim_h))  # a bright skin lit from above
            base = np.asarray(_MINERAL[mineral], np.float32)
            lumps = noise(rng, MEDIUM, h, w)
            tex = colourise(1.0 + 0.3 * lumps + spec, base, 0.2 * (noise(rng, GRAIN, h, w) > 2.0))
            window[raster.load] = tex[raster.load]

    def occluder_colour(self, kind: str) -> RGB:
        return (0.2, 0.2, 0.2) if kind == "pole" else (0.75, 0.6, 0.1)

    def finish(self, rng: np.random.Generator, image: np.ndarray, backdrop: Backdrop) -> np.ndarray:
        h, w = image.shape[:2]
        sh, sw = max(h // 8, 1), max(w // 8, 1)
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        light = np.full((sh, sw, 3), rng.uniform(0.1, 0.2), np.float32)
        for _ in range(int(rng.integers(2, 4))):
            cy, cx = rng.uniform(0.3, 0.9) * sh, rng.uniform(0.1, 0.9) * sw
            r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (rng.uniform(0.2, 0.4) * sw) ** 2
            lamp = np.asarray(_LAMPS[int(rng.integers(len(_LAMPS)))], np.float32)
            light += (rng.uniform(0.9, 1.6) * np.exp(-r2))[:, :, None] * lamp
        out = image * cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
        sigma = np.float32(rng.uniform(0.03, 0.06))
        out += cv2.merge([noise(rng, GRAIN, h, w) * sigma for _ in range(3)])
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def jpeg_quality(self, rng: np.random.Generator) -> int:
        return int(rng.integers(40, 86))
