"""Noise, mineral textures and backgrounds, drawn in float32 RGB in [0, 1].

Noise comes from a small bank of fixed fields (generated once per process from a constant seed)
cropped at per-image random offsets, so that a scene costs crops, not fresh noise, and stays a
pure function of its own random generator.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Final

import cv2
import numpy as np

_BANK_SIDE: Final = 1024
_BANK_SEED: Final = 20_261_127


SMOOTH: Final = 0  # fractal noise, large features dominate
MEDIUM: Final = 1  # fractal noise, medium features (rock lumps)
GRAIN: Final = 2  # near-white noise, pixel grain


class Mineral(StrEnum):
    COAL = "coal"
    IRON_ORE = "iron_ore"
    LIMESTONE = "limestone"


MINERALS: tuple[str, ...] = tuple(m.value for m in Mineral)


class Background(StrEnum):
    SKY = "sky"  # sky, a distant ridge, ground
    PIT_WALL = "pit_wall"  # benched pit walls, a sliver of sky or none
    GRAVEL = "gravel"  # mostly gravel ground (seen from above)


BACKGROUNDS: tuple[str, ...] = tuple(b.value for b in Background)


def _spectral(rng: np.random.Generator, exponent: float, low: float, high: float) -> np.ndarray:
    """A periodic (tileable) zero-mean unit-variance field with amplitude ~ f**-exponent between
    spatial frequencies ``low`` and ``high`` (cycles per pixel)."""
    side = _BANK_SIDE
    white = rng.standard_normal((side, side))
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    gain = np.where((f >= low) & (f <= high), np.maximum(f, 1e-6) ** -exponent, 0.0)
    out = np.fft.irfft2(np.fft.rfft2(white) * gain, s=(side, side))
    out -= out.mean()
    out /= out.std() + 1e-12
    return out.astype(np.float32)


@lru_cache(maxsize=1)
def noise_bank() -> np.ndarray:
    """float32 ``[3, 2*S, 2*S]`` periodic zero-mean unit-variance fields, each tiled 2x2
    (S = 1024): :data:`SMOOTH`, :data:`MEDIUM`, :data:`GRAIN`."""
    rng = np.random.default_rng(_BANK_SEED)
    fields = [
        _spectral(rng, 1.4, 1.0 / 512, 1.0 / 8),
        _spectral(rng, 0.6, 1.0 / 64, 1.0 / 6),
        _spectral(rng, 0.0, 1.0 / 16, 0.5),
    ]
    bank = np.stack([np.tile(f, (2, 2)) for f in fields])
    bank.setflags(write=False)  # crops are views: never scale them in place
    return bank


def noise(rng: np.random.Generator, field: int, h: int, w: int) -> np.ndarray:
    """A float32 ``[h, w]`` crop of noise field ``field`` at a random offset (read-only view)."""
    bank = noise_bank()
    oy, ox = (int(v) for v in rng.integers(0, _BANK_SIDE, size=2))
    ch, cw = min(h, _BANK_SIDE), min(w, _BANK_SIDE)
    crop = bank[field, oy : oy + ch, ox : ox + cw]
    if (ch, cw) != (h, w):
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
    return crop


# --- Minerals -------------------------------------------------------------------------------------

_MINERAL_BASE = {
    Mineral.COAL: (0.07, 0.07, 0.08),
    Mineral.IRON_ORE: (0.42, 0.2, 0.12),
    Mineral.LIMESTONE: (0.76, 0.73, 0.66),
}


def colourise(shade: np.ndarray, colour: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """float32 ``[h, w, 3]`` = ``shade[h, w] * colour[3] (+ extra[h, w])``, without slow
    last-axis broadcasting."""
    channels = []
    for c in np.asarray(colour, np.float32):
        channel = shade * c
        if extra is not None:
            channel += extra
        channels.append(channel)
    return cv2.merge(channels)


def mineral_texture(
    rng: np.random.Generator,
    mineral: Mineral | str,
    h: int,
    w: int,
    light: np.ndarray | None = None,
) -> np.ndarray:
    """float32 ``[h, w, 3]`` RGB texture of a mineral heap (lumps, crevices, grain, glints),
    multiplied by ``light`` (float32 ``[h, w]``) when given."""
    m = Mineral(mineral)
    base = np.asarray(_MINERAL_BASE[m], np.float32) * np.float32(rng.uniform(0.85, 1.15))
    base *= rng.uniform(0.96, 1.04, 3).astype(np.float32)
    smooth = noise(rng, SMOOTH, h, w)
    lumps = noise(rng, MEDIUM, h, w)
    grain = noise(rng, GRAIN, h, w)
    shade = 1.0 + 0.12 * smooth + 0.1 * grain
    shade -= 0.35 * np.exp(-4.0 * lumps * lumps)  # crevices between lumps
    extra: np.ndarray | None = None
    if m is Mineral.COAL:
        extra = 0.3 * (grain > 2.3).astype(np.float32)  # glints
    elif m is Mineral.LIMESTONE:
        extra = -0.18 * (grain < -2.0).astype(np.float32)  # dark specks
    else:
        shade += 0.1 * smooth  # iron ore: blotchier
    if light is not None:
        shade *= light
        if extra is not None:
            extra *= light
    return colourise(shade, base, extra)


# --- Backgrounds ----------------------------------------------------------------------------------

_SKY = {
    "day": ((0.33, 0.53, 0.82), (0.76, 0.83, 0.9)),
    "dusk": ((0.22, 0.18, 0.36), (0.96, 0.58, 0.32)),
    "night": ((0.01, 0.01, 0.03), (0.06, 0.06, 0.1)),
}
_ROCKS = np.array(
    [
        (0.55, 0.42, 0.3),
        (0.48, 0.44, 0.4),
        (0.62, 0.5, 0.36),
        (0.38, 0.33, 0.3),
        (0.58, 0.55, 0.5),
        (0.45, 0.3, 0.22),
    ],
    np.float32,
)


def _wavy(rng: np.random.Generator, w: int, y: float, amp: float) -> np.ndarray:
    """float64 ``[w]`` a wavy line around row ``y`` (amplitude ``amp`` pixels)."""
    x = np.linspace(0.0, 1.0, w)
    out = np.full(w, y)
    for k in (1, 2, 5):
        out += amp / k * np.sin(2 * np.pi * (k * x + rng.uniform(0, 1)))
    return out


def background(
    rng: np.random.Generator, kind: Background | str, lighting: str, size_wh: tuple[int, int]
) -> tuple[np.ndarray, float]:
    """float32 ``[H, W, 3]`` backdrop and the row (pixels) where the ground starts."""
    w, h = size_wh
    k = Background(kind)
    if k is Background.SKY:
        horizon, ground = rng.uniform(0.25, 0.45) * h, rng.uniform(0.45, 0.6) * h
    elif k is Background.PIT_WALL:
        horizon, ground = rng.uniform(-0.1, 0.12) * h, rng.uniform(0.45, 0.65) * h
    else:
        horizon, ground = rng.uniform(-0.2, 0.0) * h, rng.uniform(0.05, 0.25) * h
    # Pit walls: benches between the horizon and the ground, each its own rock colour, then
    # the gravel floor. (All geometry is drawn before the lighting-dependent sky, so lighting
    # never moves the ground line.)
    n_bench = int(rng.integers(2, 6))
    lines = [_wavy(rng, w, horizon, 0.03 * h)]
    for i in range(1, n_bench + 1):
        lines.append(_wavy(rng, w, horizon + (ground - horizon) * i / n_bench, 0.015 * h))
    lines[-1] = np.maximum(lines[-1], lines[-2])
    colours = _ROCKS[rng.integers(0, len(_ROCKS), n_bench + 1)] * rng.uniform(0.85, 1.1)
    gravel = rng.uniform(0.4, 0.6) * np.array([1.0, 0.92, 0.8])

    top, bottom = (np.asarray(c, np.float32) for c in _SKY[lighting])
    t = np.clip(np.arange(h, dtype=np.float32) / max(horizon, 1.0), 0.0, 1.0)[:, None, None]
    img = cv2.resize(top + (bottom - top) * t, (w, h), interpolation=cv2.INTER_NEAREST)
    sky_rows = int(np.clip(np.ceil(horizon + 0.06 * h), 0, h))
    if lighting != "night" and sky_rows > 0:
        clouds = np.clip(noise(rng, SMOOTH, sky_rows, w) - 0.6, 0.0, None)
        img[:sky_rows] += cv2.merge([0.25 * clouds] * 3)
    # Benches painted top to bottom as polygons reaching the bottom of the frame.
    step = max(w // 48, 1)
    xs = np.append(np.arange(0, w, step), w - 1)
    rock = np.zeros((h, w), np.uint8)
    for i, line in enumerate(lines):
        colour = gravel if i == n_bench else colours[i]
        top_edge = np.stack([xs, line[xs]], axis=1)
        poly = np.concatenate([top_edge, [[w - 1, h + 1], [0, h + 1]]])
        pts = [np.round(poly * 8).astype(np.int32)]
        cv2.fillPoly(img, pts, tuple(float(c) for c in colour), cv2.LINE_8, 3)
        if i == 0:
            cv2.fillPoly(rock, pts, (1,), cv2.LINE_8, 3)
    shade = 0.18 * noise(rng, SMOOTH, h, w) + 0.12 * noise(rng, GRAIN, h, w)
    shade *= rock
    shade += 1.0
    img = cv2.multiply(img, cv2.merge([shade] * 3))
    return img, float(np.mean(lines[-1]))
