"""Photometric and style augmentation of training photos: images only, never labels.

:class:`PhotometricAugment` is the typed, validated configuration; :func:`augment_photo` applies
it to one uint8 RGB photo with a caller's generator, so a run is a pure function of its seed
(the trainers seed it with ``(seed, epoch)`` or ``(seed, step)``). Each operation fires with its
own probability, in this order:

1. **colour jitter**: brightness, contrast, saturation (gains ``1 +- strength``) and a hue
   rotation (degrees);
2. **grey**: the photo turned to grey (three equal channels);
3. **posterise**: each channel kept to ``bits`` bits;
4. **blur**: a Gaussian of ``sigma`` pixels;
5. **noise**: Gaussian sensor noise of ``sigma`` grey levels, per pixel and channel;
6. **JPEG**: encoded and decoded again at a random quality;
7. **cut-out**: up to ``cutout_max`` rectangles, each ``cutout_size`` of the photo's sides, filled
   with one flat random colour.

Boxes and masks are never changed. The one operation that hides content is cut-out: its
rectangles are small (at most 15 % of each side by default) and the labels keep the hidden
pixels, as they do for a pole or a loader arm in front of a truck (an occluder the networks must
see through). Evaluation and export never augment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np


def _check_range(name: str, lo_hi: tuple[float, float], lo: float, hi: float) -> None:
    a, b = lo_hi
    if not (lo <= a <= b <= hi):
        raise ValueError(
            f"{name}: got {lo_hi!r}, expected (low, high) with {lo} <= low <= high <= {hi}"
        )


@dataclass(frozen=True)
class PhotometricAugment:
    """Which photometric operations fire, how often and how strongly (see the module docstring).

    Attributes:
        enabled: False turns every operation off.
        jitter_p / brightness / contrast / saturation / hue_deg: colour jitter probability and
            strengths (gains drawn in ``1 +- strength``; hue rotation in ``+- hue_deg`` degrees).
        grey_p: probability of turning the photo grey.
        posterise_p / posterise_bits: probability and bits kept per channel (low, high).
        blur_p / blur_sigma: probability and Gaussian sigma in pixels (low, high).
        noise_p / noise_sigma: probability and noise sigma in grey levels (low, high).
        jpeg_p / jpeg_quality: probability and JPEG quality (low, high).
        cutout_p / cutout_max / cutout_size: probability, most rectangles, and each rectangle's
            side as a share of the photo's side (low, high).
    """

    enabled: bool = True
    jitter_p: float = 0.8
    brightness: float = 0.35
    contrast: float = 0.35
    saturation: float = 0.5
    hue_deg: float = 12.0
    grey_p: float = 0.1
    posterise_p: float = 0.1
    posterise_bits: tuple[int, int] = (3, 6)
    blur_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.4, 1.8)
    noise_p: float = 0.25
    noise_sigma: tuple[float, float] = (2.0, 10.0)
    jpeg_p: float = 0.3
    jpeg_quality: tuple[int, int] = (25, 90)
    cutout_p: float = 0.25
    cutout_max: int = 3
    cutout_size: tuple[float, float] = (0.04, 0.15)

    def __post_init__(self) -> None:
        for name in (
            "jitter_p",
            "grey_p",
            "posterise_p",
            "blur_p",
            "noise_p",
            "jpeg_p",
            "cutout_p",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: got {value!r}, expected a probability in [0, 1]")
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: got {value!r}, expected a strength in [0, 1)")
        if not 0.0 <= self.hue_deg <= 180.0:
            raise ValueError(f"hue_deg: got {self.hue_deg!r}, expected degrees in [0, 180]")
        _check_range("posterise_bits", self.posterise_bits, 1, 8)
        _check_range("blur_sigma", self.blur_sigma, 0.0, 20.0)
        _check_range("noise_sigma", self.noise_sigma, 0.0, 128.0)
        _check_range("jpeg_quality", self.jpeg_quality, 1, 100)
        _check_range("cutout_size", self.cutout_size, 0.0, 0.5)
        if not 0 <= self.cutout_max <= 16:
            raise ValueError(f"cutout_max: got {self.cutout_max!r}, expected 0..16 rectangles")

    @classmethod
    def off(cls) -> PhotometricAugment:
        """A configuration that changes nothing."""
        return cls(enabled=False)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _jitter(rgb: np.ndarray, rng: np.random.Generator, cfg: PhotometricAugment) -> np.ndarray:
    img = rgb.astype(np.float32)
    b, c, s = (1.0 + rng.uniform(-v, v) for v in (cfg.brightness, cfg.contrast, cfg.saturation))
    hue = rng.uniform(-cfg.hue_deg, cfg.hue_deg)
    img *= np.float32(b)
    mean = img.mean()
    img = (img - mean) * np.float32(c) + mean
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * np.float32(s)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if hue:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)  # hue in [0, 180): 2 degrees per unit
        lut = ((np.arange(256) + hue / 2.0) % 180).astype(np.uint8)
        hsv[:, :, 0] = cv2.LUT(hsv[:, :, 0], lut)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out


def _cutout(rgb: np.ndarray, rng: np.random.Generator, cfg: PhotometricAugment) -> np.ndarray:
    out = rgb.copy()
    h, w = out.shape[:2]
    for _ in range(int(rng.integers(1, cfg.cutout_max + 1))):
        cw = max(1, round(rng.uniform(*cfg.cutout_size) * w))
        ch = max(1, round(rng.uniform(*cfg.cutout_size) * h))
        x0, y0 = int(rng.integers(0, max(w - cw, 0) + 1)), int(rng.integers(0, max(h - ch, 0) + 1))
        out[y0 : y0 + ch, x0 : x0 + cw] = rng.integers(0, 256, 3).astype(np.uint8)
    return out


def augment_photo(
    rgb: np.ndarray, rng: np.random.Generator, config: PhotometricAugment
) -> np.ndarray:
    """A new uint8 ``[H, W, 3]`` RGB photo: ``rgb`` through ``config``'s operations, drawn from
    ``rng``. The input is not modified; shape and dtype are kept."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"photo: expected uint8 [H, W, 3] RGB, got {rgb.dtype} {rgb.shape}")
    if not config.enabled:
        return rgb.copy()
    draws = rng.random(7)  # one draw per operation, whether it fires or not
    out = rgb
    if draws[0] < config.jitter_p:
        out = _jitter(out, rng, config)
    if draws[1] < config.grey_p:
        grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = cv2.merge([grey, grey, grey])
    if draws[2] < config.posterise_p:
        bits = int(rng.integers(config.posterise_bits[0], config.posterise_bits[1] + 1))
        out = out & np.uint8((0xFF << (8 - bits)) & 0xFF)
    if draws[3] < config.blur_p:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(*config.blur_sigma)))
    if draws[4] < config.noise_p:
        sigma = float(rng.uniform(*config.noise_sigma))
        noisy = out.astype(np.float32) + rng.normal(0.0, sigma, out.shape).astype(np.float32)
        out = np.clip(noisy, 0, 255).astype(np.uint8)
    if draws[5] < config.jpeg_p:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if draws[6] < config.cutout_p and config.cutout_max > 0:
        out = _cutout(out, rng, config)
    return np.ascontiguousarray(out) if out is not rgb else rgb.copy()
