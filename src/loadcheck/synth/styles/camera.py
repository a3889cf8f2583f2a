"""A camera for the composed styles: a perspective homography and a radial lens distortion.

Each truck is drawn in its own *body plane* (a flat side elevation in pixels). The camera maps it
to the *ideal* (undistorted) image by ``H = K R K^-1`` with ``K`` the intrinsics of focal length
``focal_px`` centred in the frame and ``R`` a rotation by ``pitch_deg`` (about the horizontal axis:
positive looks down on the truck) then ``yaw_deg`` (about the vertical axis), followed by a
translation that keeps the frame centre in place. The lens then maps the ideal image to the output
by radial distortion: an output pixel at normalised offset ``p`` from the centre (radius ``r``:
distance over the half diagonal) shows the ideal pixel at ``p * (1 + k1 r^2 + k2 r^4) / g`` where
``g`` is the largest gain on the frame's border, so every output pixel sees the ideal frame (no
invented border); ``k1 > 0`` is barrel distortion, ``k1 < 0`` pincushion.

Images and masks go through the *same* maps (images bilinear, masks nearest), so every mask
follows the warp exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from loadcheck.synth.geometry import View


@dataclass(frozen=True)
class Camera:
    """One scene's camera (see the module docstring for the model and units).

    Attributes:
        size_wh: the frame (width, height) in pixels.
        focal_px: focal length in pixels.
        pitch_deg / yaw_deg: rotation of the camera, degrees.
        k1 / k2: radial distortion coefficients (0, 0: a pinhole camera).
    """

    size_wh: tuple[int, int]
    focal_px: float
    pitch_deg: float
    yaw_deg: float
    k1: float
    k2: float = 0.0

    @cached_property
    def homography(self) -> np.ndarray:
        """float64 ``[3, 3]`` body plane -> ideal image."""
        w, h = self.size_wh
        cx, cy = w / 2.0, h / 2.0
        k = np.array([[self.focal_px, 0.0, cx], [0.0, self.focal_px, cy], [0.0, 0.0, 1.0]])
        p, y = np.deg2rad(self.pitch_deg), np.deg2rad(self.yaw_deg)
        rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(p), -np.sin(p)], [0.0, np.sin(p), np.cos(p)]])
        ry = np.array([[np.cos(y), 0.0, np.sin(y)], [0.0, 1.0, 0.0], [-np.sin(y), 0.0, np.cos(y)]])
        hom = k @ ry @ rx @ np.linalg.inv(k)
        centre = hom @ np.array([cx, cy, 1.0])
        shift = np.array(
            [
                [1.0, 0.0, cx - centre[0] / centre[2]],
                [0.0, 1.0, cy - centre[1] / centre[2]],
                [0.0, 0.0, 1.0],
            ]
        )
        out = shift @ hom
        return out / out[2, 2]

    @property
    def view(self) -> str:
        """The classic view name closest to this camera: ``elevated`` when it looks down more
        than 12 degrees, else ``rear_three_quarter`` when turned more than 12 degrees, else
        ``side``."""
        if self.pitch_deg > 12.0:
            return View.ELEVATED.value
        if abs(self.yaw_deg) > 12.0:
            return View.REAR_THREE_QUARTER.value
        return View.SIDE.value

    def _radius_scale(self) -> float:
        w, h = self.size_wh
        return float(np.hypot(w, h) / 2.0)

    def _gain(self, r2: np.ndarray) -> np.ndarray:
        return (1.0 + self.k1 * r2 + self.k2 * r2 * r2) / self._border_gain

    @cached_property
    def _border_gain(self) -> float:
        w, h = self.size_wh
        s = self._radius_scale()
        t = np.linspace(-1.0, 1.0, 257)
        xs = np.concatenate([t * w / 2, np.full(257, w / 2.0)]) / s
        ys = np.concatenate([np.full(257, h / 2.0), t * h / 2]) / s
        r2 = xs * xs + ys * ys
        return float(np.max(1.0 + self.k1 * r2 + self.k2 * r2 * r2))

    @cached_property
    def lens_maps(self) -> tuple[np.ndarray, np.ndarray] | None:
        """float32 ``[H, W]`` x and y maps output -> ideal image for ``cv2.remap``; ``None``
        for a pinhole camera."""
        if self.k1 == 0.0 and self.k2 == 0.0:
            return None
        w, h = self.size_wh
        cx, cy, s = w / 2.0, h / 2.0, self._radius_scale()
        xs = (np.arange(w, dtype=np.float64) + 0.5 - cx) / s
        ys = (np.arange(h, dtype=np.float64) + 0.5 - cy) / s
        xx, yy = np.meshgrid(xs, ys)
        gain = self._gain(xx * xx + yy * yy)
        map_x = (xx * gain * s + cx - 0.5).astype(np.float32)
        map_y = (yy * gain * s + cy - 0.5).astype(np.float32)
        return map_x, map_y

    def to_ideal(self, image: np.ndarray, *, nearest: bool = False) -> np.ndarray:
        """A body-plane image (or mask) seen by the camera, before the lens."""
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpPerspective(
            image, self.homography, self.size_wh, flags=flags, borderMode=cv2.BORDER_CONSTANT
        )

    def through_lens(self, image: np.ndarray, *, nearest: bool = False) -> np.ndarray:
        """An ideal-plane image (or mask) through the lens: the output pixels."""
        maps = self.lens_maps
        if maps is None:
            return image
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.remap(image, maps[0], maps[1], flags, borderMode=cv2.BORDER_REPLICATE)

    def mask_through_lens(self, mask: np.ndarray) -> np.ndarray:
        """A bool ``[H, W]`` ideal-plane mask through the lens (nearest: the image's own map)."""
        maps = self.lens_maps
        if maps is None:
            return mask
        out = cv2.remap(
            mask.view(np.uint8),
            maps[0],
            maps[1],
            cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return out.astype(bool)

    def body_to_ideal_points(self, points_xy: np.ndarray) -> np.ndarray:
        """float64 ``[K, 2]`` body-plane points in the ideal image."""
        pts = np.asarray(points_xy, np.float64).reshape(-1, 2)
        hom = np.c_[pts, np.ones(len(pts))] @ self.homography.T
        return hom[:, :2] / hom[:, 2:3]

    def ideal_to_output_points(self, points_xy: np.ndarray) -> np.ndarray:
        """float64 ``[K, 2]`` ideal-plane points where the lens puts them in the output."""
        pts = np.asarray(points_xy, np.float64).reshape(-1, 2)
        if self.k1 == 0.0 and self.k2 == 0.0:
            return pts.copy()
        w, h = self.size_wh
        centre = np.array([w / 2.0, h / 2.0])
        s = self._radius_scale()
        ideal = (pts - centre) / s
        out = ideal.copy()
        for _ in range(40):  # fixed point of p_d = p_u / gain(r_d)
            out = ideal / self._gain(np.sum(out * out, axis=1, keepdims=True))
        return out * s + centre


def random_camera(
    rng: np.random.Generator,
    size_wh: tuple[int, int],
    *,
    focal: tuple[float, float],
    pitch_deg: tuple[float, float],
    yaw_deg: tuple[float, float],
    k1: tuple[float, float],
) -> Camera:
    """A camera with each parameter uniform in its range (focal in frame widths); the yaw's sign
    is drawn separately so both turns occur."""
    w, _ = size_wh
    yaw = float(rng.uniform(*yaw_deg)) * (1.0 if rng.random() < 0.5 else -1.0)
    return Camera(
        size_wh=size_wh,
        focal_px=float(rng.uniform(*focal)) * w,
        pitch_deg=float(rng.uniform(*pitch_deg)),
        yaw_deg=yaw,
        k1=float(rng.uniform(*k1)),
    )
