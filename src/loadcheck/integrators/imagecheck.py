"""Decode-check fitting images and detect truncated files by their format's end markers."""

from __future__ import annotations

import cv2
import numpy as np

from loadcheck.integrators.errors import IngestError

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp", "webp"})


def image_extension(name: str) -> str | None:
    """Lower-case extension when ``name`` is an accepted image file name, else ``None``."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base:
        return None
    ext = base.rsplit(".", 1)[1].lower()
    return ext if ext in IMAGE_EXTENSIONS else None


def _truncation(data: bytes) -> str | None:
    """A reason when the bytes visibly stop before the format's end marker, else ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        if not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
            return "JPEG data ends before the end-of-image marker (truncated)"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        if data[-12:][4:8] != b"IEND":
            return "PNG data ends before the IEND chunk (truncated)"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if int.from_bytes(data[4:8], "little") + 8 > len(data):
            return "WebP data is shorter than its RIFF header says (truncated)"
    elif data[:2] == b"BM" and len(data) >= 6:
        declared = int.from_bytes(data[2:6], "little")
        if declared and declared > len(data):
            return "BMP data is shorter than its header says (truncated)"
    return None


def check_image(data: bytes, name: str) -> tuple[int, int]:
    """Decode ``data`` fully; returns its ``(width, height)`` in pixels.

    Raises:
        IngestError: empty, truncated, or not decodable as JPEG/PNG/BMP/WebP (names ``name``).
    """
    if not data:
        raise IngestError(f"{name}: empty file")
    reason = _truncation(data)
    if reason:
        raise IngestError(f"{name}: {reason}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise IngestError(f"{name}: cannot be decoded as a JPEG, PNG, BMP or WebP image")
    return int(image.shape[1]), int(image.shape[0])


def decode_image(data: bytes, name: str) -> np.ndarray:
    """uint8 ``[H, W, 3]`` BGR image, or :class:`IngestError` naming ``name``."""
    check_image(data, name)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return np.asarray(image)
