"""Image decoding and letterboxing of the preprocess step."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest
from loadcheck.serving.images import (
    ImageDecodeError,
    Letterbox,
    declared_size_wh,
    decode_image,
    letterbox,
    sniff_format,
)


def _encode(image: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment with one Orientation (0x0112) tag after SOI."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00\x00\x00\x00"
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp"])
def test_every_supported_format_decodes_to_rgb_of_the_right_size(ext):
    bgr = np.zeros((30, 50, 3), np.uint8)
    bgr[..., 2] = 200  # red in BGR
    rgb = decode_image(_encode(bgr, ext))
    assert rgb.shape == (30, 50, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb[15, 25, 0]) - 200) <= 3 and int(rgb[15, 25, 2]) <= 3


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp"])
def test_declared_size_is_read_from_the_header(ext):
    assert declared_size_wh(_encode(np.zeros((30, 50, 3), np.uint8), ext)) == (50, 30)


def test_gray_and_rgba_images_become_three_channel_rgb():
    gray = decode_image(_encode(np.full((8, 9), 77, np.uint8), ".png"))
    assert gray.shape == (8, 9, 3) and np.all(gray == 77)
    bgra = np.zeros((8, 9, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 128  # blue, half transparent
    rgba = decode_image(_encode(bgra, ".png"))
    assert rgba.shape == (8, 9, 3) and rgba[0, 0, 2] == 255 and rgba[0, 0, 0] == 0


def test_exif_orientation_is_applied():
    bgr = np.zeros((20, 40, 3), np.uint8)
    rotated = decode_image(_with_exif_orientation(_encode(bgr, ".jpg"), 6))
    assert rotated.shape[:2] == (40, 20)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello world, not an image", "magic bytes"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "corrupt or truncated"),
    ],
)
def test_bad_bytes_are_refused_with_the_reason(data, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data)


def test_a_truncated_jpeg_is_refused():
    data = _encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), ".jpg")
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(data[: len(data) // 4])


def test_a_decompression_bomb_is_refused_before_decoding():
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 100_000, 100_000)
    with pytest.raises(ImageDecodeError, match="over the limit"):
        decode_image(header + b"\x08\x02\x00\x00\x00" + b"\x00" * 32, max_pixels=1_000_000)


def test_sniff_format_names_the_container():
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff_format(b"BM" + b"\x00" * 10) == "bmp"


def test_letterbox_keeps_the_aspect_ratio_and_maps_points_back():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[40:60, 90:110] = 255
    boxed, transform = letterbox(rgb, (320, 320))
    assert boxed.shape == (320, 320, 3)
    assert transform == Letterbox(1.6, 0.0, 80.0)
    ys, xs = np.nonzero(boxed[..., 0] == 255)
    x0 = (xs.min() - transform.pad_x) / transform.scale
    y0 = (ys.min() - transform.pad_y) / transform.scale
    assert abs(x0 - 90) <= 1 and abs(y0 - 40) <= 1
    assert boxed[0, 0, 0] == 114  # YOLOv6's grey padding
