"""Image decoding and letterboxing for the ``preprocess`` model (pure functions, unit-tested).

Decoding checks the container's magic bytes and its declared size *before* decoding, so a tiny
file that claims a gigantic canvas (a decompression bomb) is refused without allocating it.
OpenCV's ``IMREAD_COLOR`` then applies the EXIF orientation and turns gray and RGBA into 3 channels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: a 8K frame fits, a decompression bomb does not
LETTERBOX_PAD_VALUE = 114  # YOLOv6's grey padding


class ImageDecodeError(ValueError):
    """The bytes are not an acceptable image; the message names the reason."""


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the detector input.

    ``detector_xy = original_xy * scale + (pad_x, pad_y)``; units are pixels.
    """

    scale: float
    pad_x: float
    pad_y: float

    def to_array(self) -> np.ndarray:
        """float32 ``[3]``: scale, pad_x, pad_y."""
        return np.array([self.scale, self.pad_x, self.pad_y], np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> Letterbox:
        flat = np.asarray(values, np.float32).reshape(-1)
        if flat.shape != (3,) or not np.all(np.isfinite(flat)) or flat[0] <= 0:
            raise ValueError(f"letterbox: expected float32 [3] (scale>0, pad_x, pad_y), got {flat}")
        return cls(float(flat[0]), float(flat[1]), float(flat[2]))


def sniff_format(data: bytes) -> str:
    """``"jpeg" | "png" | "bmp" | "webp"`` from the magic bytes, else :class:`ImageDecodeError`."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise ImageDecodeError("not a JPEG, PNG, BMP or WebP file (unknown magic bytes)")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


def declared_size_wh(data: bytes) -> tuple[int, int] | None:
    """The (width, height) the file header declares, or ``None`` when it cannot be read."""
    fmt = sniff_format(data)
    try:
        if fmt == "png" and len(data) >= 24:
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if fmt == "bmp" and len(data) >= 26:
            w, h = struct.unpack("<ii", data[18:26])
            return abs(int(w)), abs(int(h))
        if fmt == "jpeg":
            return _jpeg_size(data)
        if fmt == "webp" and len(data) >= 30:
            chunk = data[12:16]
            if chunk == b"VP8X":
                w = 1 + int.from_bytes(data[24:27], "little")
                h = 1 + int.from_bytes(data[27:30], "little")
                return w, h
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return int(w & 0x3FFF), int(h & 0x3FFF)
    except struct.error:
        return None
    return None


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an encoded image to uint8 ``[H, W, 3]`` RGB, EXIF orientation applied.

    Raises:
        ImageDecodeError: empty, unknown format, truncated/corrupt, or more than ``max_pixels``.
    """
    if not data:
        raise ImageDecodeError("empty (0 bytes)")
    fmt = sniff_format(data)
    size = declared_size_wh(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageDecodeError(
            f"{size[0]}x{size[1]} = {size[0] * size[1]} pixels is over the limit of {max_pixels}"
        )
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageDecodeError(f"corrupt or truncated {fmt.upper()} file")
    if bgr.shape[0] * bgr.shape[1] > max_pixels:
        raise ImageDecodeError(f"{bgr.shape[1]}x{bgr.shape[0]} is over {max_pixels} pixels")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def letterbox(
    rgb: np.ndarray, size_hw: tuple[int, int], pad_value: int = LETTERBOX_PAD_VALUE
) -> tuple[np.ndarray, Letterbox]:
    """Fit uint8 ``[H, W, 3]`` into ``size_hw`` keeping the aspect ratio, centred, grey padding.

    Returns the uint8 ``[h, w, 3]`` detector input and the :class:`Letterbox` transform.
    """
    h0, w0 = rgb.shape[:2]
    out_h, out_w = size_hw
    scale = min(out_h / h0, out_w / w0)
    new_w, new_h = max(1, round(w0 * scale)), max(1, round(h0 * scale))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (out_w - new_w) // 2, (out_h - new_h) // 2
    out = np.full((out_h, out_w, 3), pad_value, np.uint8)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return out, Letterbox(scale, float(pad_x), float(pad_y))


def to_float_nchw(boxed: np.ndarray) -> np.ndarray:
    """uint8 ``[h, w, 3]`` -> float32 ``[1, 3, h, w]`` in [0, 1] (YOLOv6's own ONNX contract)."""
    return np.ascontiguousarray(boxed.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
