"""``quarry``: a rigid haul truck in an overcast quarry, seen from a low camera through a
wide-angle (barrel) lens.

Flat, shadowless overcast light; pale terraced quarry faces under a white-grey sky; wet dark
ground with puddles, rock piles and cones; weathered paints with rust; a short, tall dump body
whose floor rises to the front, a cab on a deck over the front wheel and very large tyres.
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

_PAINTS: tuple[RGB, ...] = (
    (0.78, 0.62, 0.16),  # faded yellow
    (0.82, 0.8, 0.76),  # dirty white
    (0.66, 0.28, 0.14),  # oxide red
    (0.5, 0.52, 0.46),  # olive grey
)
_STONE = np.array([(0.7, 0.68, 0.63), (0.62, 0.58, 0.5), (0.74, 0.66, 0.52), (0.55, 0.55, 0.55)])
_MINERAL = {
    "coal": (0.1, 0.11, 0.13),
    "iron_ore": (0.33, 0.19, 0.15),
    "limestone": (0.66, 0.66, 0.63),
}


class QuarryStyle:
    """Overcast quarry, rigid haul truck, low camera, barrel lens."""

    name = "quarry"
    summary = "overcast quarry, rigid haul truck, low camera, barrel lens"

    def camera(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Camera:
        return random_camera(
            rng,
            size_wh,
            focal=(0.75, 1.2),
            pitch_deg=(-9.0, 5.0),
            yaw_deg=(0.0, 22.0),
            k1=(0.06, 0.2),
        )

    def backdrop(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Backdrop:
        w, h = size_wh
        horizon = rng.uniform(0.12, 0.3) * h
        ground = rng.uniform(0.42, 0.55) * h
        t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        sky = np.array([0.83, 0.84, 0.86], np.float32) * rng.uniform(0.9, 1.05)
        img = np.empty((h, w, 3), np.float32)
        img[:] = sky * (1.0 - 0.12 * t[:, :, None])
        # Terraces: flat benches of stone from the horizon down to the ground line.
        n = int(rng.integers(3, 7))
        edges = np.linspace(horizon, ground, n + 1)
        for i in range(n):
            colour = _STONE[int(rng.integers(len(_STONE)))] * rng.uniform(0.85, 1.05)
            y0 = int(edges[i] + rng.uniform(-0.01, 0.01) * h)
            img[max(y0, 0) : int(edges[i + 1]) + 1] = colour
            face = noise(rng, MEDIUM, h, w)[: max(int(edges[i + 1]) - max(y0, 0) + 1, 0)]
            bench = img[max(y0, 0) : max(y0, 0) + len(face)]
            bench *= (1.0 + 0.08 * face)[:, :, None]
        # Wet ground, darker towards the camera, with puddles that mirror the sky.
        g0 = int(ground)
        mud = np.array([0.3, 0.28, 0.25], np.float32) * rng.uniform(0.8, 1.1)
        rows = h - g0
        if rows > 0:
            depth = np.linspace(1.0, 0.7, rows, dtype=np.float32)[:, None, None]
            img[g0:] = mud * depth * (1.0 + 0.15 * noise(rng, SMOOTH, rows, w))[:, :, None]
            for _ in range(int(rng.integers(1, 5))):
                c = (float(rng.uniform(0, w)), float(rng.uniform(ground, h)))
                ax = (rng.uniform(0.04, 0.15) * w, rng.uniform(0.01, 0.03) * h)
                cv2.ellipse(
                    img,
                    (round(c[0]), round(c[1])),
                    (round(ax[0]), round(ax[1])),
                    0,
                    0,
                    360,
                    tuple(float(v) * 0.9 for v in sky),
                    -1,
                )
        # Clutter behind the trucks: rock piles and cones.
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(0, w), rng.uniform(ground - 0.02 * h, ground + 0.1 * h)
            r = rng.uniform(0.03, 0.09) * w
            colour = _STONE[int(rng.integers(len(_STONE)))] * 0.8
            cv2.ellipse(
                img,
                (round(cx), round(cy)),
                (round(r), round(0.5 * r)),
                0,
                180,
                360,
                tuple(float(v) for v in colour),
                -1,
            )
        for _ in range(int(rng.integers(0, 4))):
            cx, cy = rng.uniform(0, w), rng.uniform(ground, h)
            s = rng.uniform(0.01, 0.02) * w
            cone = np.array([[cx, cy - 2 * s], [cx + s, cy], [cx - s, cy]])
            cv2.fillPoly(img, [np.round(cone).astype(np.int32)], (0.95, 0.4, 0.08))
        return Backdrop(img, float(ground), "overcast", "quarry_terraces")

    def body(self, rng: np.random.Generator, rim_length_px: float) -> Body:
        ln = rim_length_px
        ht = ln * rng.uniform(0.36, 0.5)
        paint = _PAINTS[int(rng.integers(len(_PAINTS)))]
        dark = tuple(0.55 * c for c in paint)
        rise = rng.uniform(0.1, 0.3) * ht  # the floor rises towards the front
        tail = rng.uniform(0.0, 0.08) * ln
        quad = np.array([[0.0, 0.0], [ln, 0.0], [ln - tail, ht], [0.06 * ln, ht - rise]])
        wheel_r = rng.uniform(0.45, 0.62) * ht
        deck_y = ht + 0.05 * ht
        cab_w = rng.uniform(0.2, 0.28) * ln
        cab_h = rng.uniform(0.45, 0.7) * ht
        cab_x0 = -cab_w - 0.04 * ln
        parts = [
            BodyPart(rect(-0.1 * ln, ht, 0.92 * ln, ht + 0.18 * ht), (0.1, 0.1, 0.1)),  # frame
            BodyPart(rect(cab_x0 - 0.05 * ln, deck_y - 0.08 * ht, 0.02 * ln, deck_y), dark),  # deck
            BodyPart(
                rect(cab_x0, deck_y - 0.08 * ht - cab_h, cab_x0 + cab_w, deck_y - 0.08 * ht), paint
            ),
            BodyPart(
                rect(
                    cab_x0 + 0.1 * cab_w,
                    deck_y - 0.08 * ht - 0.9 * cab_h,
                    cab_x0 + 0.8 * cab_w,
                    deck_y - 0.08 * ht - 0.5 * cab_h,
                ),
                (0.25, 0.3, 0.33),
            ),
            # canopy over the cab and the outer wall band round the bed
            BodyPart(
                np.array([[0.0, 0.0], [cab_x0, -0.06 * ht], [cab_x0, 0.05 * ht], [0.0, 0.14 * ht]]),
                dark,
            ),
            BodyPart(
                np.array(
                    [
                        quad[0] + (-0.03 * ln, -0.02 * ht),
                        quad[1] + (0.02 * ln, -0.02 * ht),
                        quad[2] + (0.02 * ln, 0.05 * ht),
                        quad[3] + (-0.03 * ln, 0.05 * ht),
                    ]
                ),
                dark,
            ),
        ]
        for x in (cab_x0 + 0.5 * cab_w, 0.68 * ln):
            cy = ht + 0.18 * ht + 0.55 * wheel_r
            parts.append(
                BodyPart(np.array([[x, cy], [wheel_r, wheel_r]]), (0.06, 0.06, 0.06), True)
            )
            parts.append(
                BodyPart(
                    np.array([[x, cy], [0.5 * wheel_r, 0.5 * wheel_r]]),
                    tuple(0.8 * c for c in paint),
                    True,
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
        rel = (yc - raster.y_rim[None, :].astype(np.float32)) / height
        seams = (np.modf(rel * rng.integers(3, 6))[0] < 0.05).astype(np.float32)
        rust = np.clip(noise(rng, SMOOTH, h, w), 0.0, None)
        shade = 0.62 - 0.1 * seams + 0.05 * noise(rng, GRAIN, h, w)
        bed = colourise(
            shade * (1.0 - 0.25 * rust),
            np.asarray(paint, np.float32),
            0.12 * rust * np.float32(0.6),
        )
        window[raster.bed] = bed[raster.bed]
        if raster.load.any():
            base = np.asarray(_MINERAL[mineral], np.float32) * np.float32(rng.uniform(0.85, 1.1))
            lumps = noise(rng, MEDIUM, h, w)
            tex = colourise(0.9 + 0.15 * lumps + 0.06 * noise(rng, GRAIN, h, w), base)
            window[raster.load] = tex[raster.load]

    def occluder_colour(self, kind: str) -> RGB:
        return (0.35, 0.36, 0.38) if kind == "pole" else (0.6, 0.5, 0.2)

    def finish(self, rng: np.random.Generator, image: np.ndarray, backdrop: Backdrop) -> np.ndarray:
        contrast = np.float32(rng.uniform(0.75, 0.9))
        out = image * contrast + np.float32(0.1)
        grey = out.mean(axis=2, keepdims=True)
        out = out * 0.8 + grey * 0.2
        h, w = out.shape[:2]
        out += (noise(rng, GRAIN, h, w) * np.float32(0.012))[:, :, None]
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def jpeg_quality(self, rng: np.random.Generator) -> int:
        return int(rng.integers(70, 96))
