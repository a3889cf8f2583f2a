"""Image I/O, once for every part of loadcheck: serving, client, gateway, integrators, train, synth.

* :func:`sniff_format` — the container from its magic bytes (JPEG, PNG, BMP, WebP);
* :func:`read_header` — the size the header declares, read *before* decoding, so a tiny file
  that claims a gigantic canvas (a decompression bomb) or a header that cannot be read is refused
  without the decoder ever allocating it; PNG chunks are walked so that no chunk may claim more
  bytes than the file holds;
* :func:`decode_image` — uint8 RGB ``[H, W, 3]``, EXIF orientation applied, grey / RGBA /
  16-bit turned into 8-bit RGB, under a pixel limit;
* :func:`check_image` — the header check plus a cheap reduced decode (1/8 scale, grey), for
  callers that only need to know that a file is an acceptable image (client, gateway);
* :func:`truncation_reason` — files visibly cut before their format's end marker;
* :data:`IMAGE_EXTENSIONS`, :func:`image_extension`, :func:`is_image_name` — which file names
  are images (folders, zip archives);
* :func:`encode_png`, :func:`read_mask` (non-zero = inside), :func:`sha256_bytes`,
  :func:`sha256_file` (content addresses).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

#: Decoded images above this many pixels are refused: an 8K frame (33 MP) fits, a bomb does not.
DEFAULT_MAX_PIXELS = 40_000_000
_EXTENSIONS_IN_ORDER = ("jpg", "jpeg", "png", "bmp", "webp")
#: File-name extensions of the accepted formats (lower case, no dot).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS_IN_ORDER)
#: The accepted extensions as messages list them: ``".jpg, .jpeg, .png, .bmp, .webp"``.
IMAGE_EXTENSIONS_TEXT = ", ".join(f".{ext}" for ext in _EXTENSIONS_IN_ORDER)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK = 1 << 20
# Structural caps that keep the header walk itself cheap (a few ms on any input): an encoder
# writes a few thousand PNG chunks (8 KiB IDATs) and a few dozen JPEG segments before the frame
# header; a progressive JPEG has about ten scans (libjpeg-turbo's djpeg suggests at most 500,
# each scan costs a pass over the whole image).
_MAX_PNG_CHUNKS = 1 << 16
_MAX_JPEG_SEGMENTS = 4096
_MAX_JPEG_SCANS = 500
_BMP_INFO_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


class ImageDecodeError(ValueError):
    """The bytes are not an acceptable image; the message names the reason."""


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    BMP = "bmp"
    WEBP = "webp"

    @property
    def label(self) -> str:
        return "WebP" if self is ImageFormat.WEBP else self.value.upper()


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header declares: its format and size in pixels."""

    format: ImageFormat
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def image_extension(name: str) -> str | None:
    """Lower-case extension of ``name`` (a path or an archive member) when it is an image
    file name, else ``None``; hidden files (``.DS_Store``, ``._a.jpg``) are not images."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base.startswith(".") or "." not in base:
        return None
    ext = base.rsplit(".", 1)[1].lower()
    return ext if ext in IMAGE_EXTENSIONS else None


def is_image_name(name: str) -> bool:
    return image_extension(name) is not None


def sniff_format(data: bytes) -> ImageFormat:
    """The container named by the first bytes, else :class:`ImageDecodeError`."""
    if data[:3] == b"\xff\xd8\xff":
        return ImageFormat.JPEG
    if data[:8] == _PNG_SIGNATURE:
        return ImageFormat.PNG
    if data[:2] == b"BM":
        return ImageFormat.BMP
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    head = data[:8].hex(" ") if data else "nothing"
    raise ImageDecodeError(
        f"not an image: expected a JPEG, PNG, BMP or WebP file, got bytes starting {head}"
    )


def _png_size(data: bytes) -> tuple[int, int]:
    """IHDR first with length 13, then every chunk's length within the bytes present (a decoder
    reserves what a chunk declares before reading it)."""
    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ImageDecodeError("corrupt PNG: the first chunk is not a 13-byte IHDR")
    w, h = struct.unpack(">II", data[16:24])
    offset = 33  # signature (8) + IHDR length, type, 13 bytes, CRC
    chunks = 1
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if length > len(data) - offset - 12:
            raise ImageDecodeError(
                f"corrupt or truncated PNG: chunk {kind!r} declares {length} bytes but only "
                f"{max(len(data) - offset - 12, 0)} follow"
            )
        if kind == b"IEND":
            break
        chunks += 1
        if chunks > _MAX_PNG_CHUNKS:
            raise ImageDecodeError(f"corrupt PNG: more than {_MAX_PNG_CHUNKS} chunks")
        offset += 12 + length
    return int(w), int(h)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """The frame header (SOF), which must come before any scan data; refuses scan bombs."""
    i = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        i = data.find(b"\xff", i)  # bytes between segments are skipped, as libjpeg does
        if i < 0 or i + 4 > len(data):
            break
        marker = data[i + 1]
        if marker in (0x00, 0x01, 0xD8, 0xFF) or 0xD0 <= marker <= 0xD7:
            # a fill byte, a stuffed zero, or a marker without a length
            i += 1 if marker == 0xFF else 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan or end of image before any frame header
            raise ImageDecodeError(
                "corrupt JPEG: scan data or end of image before the frame header (SOF)"
            )
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                break
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            if (scans := data.count(b"\xff\xda", i)) > _MAX_JPEG_SCANS:
                raise ImageDecodeError(
                    f"corrupt JPEG: {scans} scans (at most {_MAX_JPEG_SCANS} are accepted)"
                )
            return int(w), int(h)
        i += 2 + length
    else:
        raise ImageDecodeError(
            f"corrupt JPEG: more than {_MAX_JPEG_SEGMENTS} markers before the frame header"
        )
    raise ImageDecodeError("corrupt or truncated JPEG: no frame header (SOF) before the data ends")


def _bmp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise ImageDecodeError("corrupt or truncated BMP: the header is cut")
    (dib,) = struct.unpack("<I", data[14:18])
    if dib not in _BMP_INFO_SIZES:
        raise ImageDecodeError(f"corrupt BMP: unknown info header size {dib}")
    if dib == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        w, h = struct.unpack("<HH", data[18:22])
        return int(w), int(h)
    w, h = struct.unpack("<ii", data[18:26])
    return abs(int(w)), abs(int(h))


def _webp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise ImageDecodeError("corrupt or truncated WebP: the header is cut")
    chunk = data[12:16]
    (size,) = struct.unpack("<I", data[16:20])
    if size > len(data) - 20:
        raise ImageDecodeError(
            f"corrupt or truncated WebP: chunk {chunk!r} declares {size} bytes but only "
            f"{len(data) - 20} follow"
        )
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return int(w & 0x3FFF), int(h & 0x3FFF)
    raise ImageDecodeError(f"corrupt WebP: unknown first chunk {chunk!r}")


_SIZE_READERS = {
    ImageFormat.JPEG: _jpeg_size,
    ImageFormat.PNG: _png_size,
    ImageFormat.BMP: _bmp_size,
    ImageFormat.WEBP: _webp_size,
}


def read_header(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """Format and declared size of an encoded image, checked before any decoding.

    Raises:
        ImageDecodeError: empty, unknown format, unreadable header, a zero side, or more than
            ``max_pixels`` pixels.
    """
    if not data:
        raise ImageDecodeError("the image is empty (0 bytes)")
    fmt = sniff_format(data)
    try:
        w, h = _SIZE_READERS[fmt](data)
    except struct.error:
        raise ImageDecodeError(f"corrupt or truncated {fmt.label}: the header is cut") from None
    if w <= 0 or h <= 0:
        raise ImageDecodeError(f"corrupt {fmt.label}: the header declares {w}x{h} pixels")
    if w * h > max_pixels:
        raise ImageDecodeError(f"{w}x{h} = {w * h} pixels is over the limit of {max_pixels} pixels")
    return ImageHeader(fmt, w, h)


def truncation_reason(data: bytes) -> str | None:
    """A reason when the bytes visibly stop before the format's end marker, else ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        if not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
            return "JPEG data ends before the end-of-image marker (truncated)"
    elif data[:8] == _PNG_SIGNATURE:
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


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, strict: bool = False
) -> np.ndarray:
    """Decode an encoded image to uint8 ``[H, W, 3]`` RGB, EXIF orientation applied.

    The header is checked first (:func:`read_header`); with ``strict`` a file visibly cut before
    its end marker is refused too (fitting data), where serving decodes what it can.

    Raises:
        ImageDecodeError: empty, unknown format, corrupt or truncated, or over ``max_pixels``.
    """
    header = read_header(data, max_pixels=max_pixels)
    if strict and (reason := truncation_reason(data)):
        raise ImageDecodeError(reason)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"corrupt {header.format.label} file: {exc.err}") from None
    if bgr is None or bgr.size == 0:
        raise ImageDecodeError(f"corrupt or truncated {header.format.label} file")
    if bgr.shape[0] * bgr.shape[1] > max_pixels:  # the header lied
        raise ImageDecodeError(f"{bgr.shape[1]}x{bgr.shape[0]} is over {max_pixels} pixels")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def check_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, strict: bool = False
) -> ImageHeader:
    """Check that ``data`` is one acceptable image without keeping its pixels; returns its header.

    The header is checked first (:func:`read_header`), then the file is decoded at 1/8 scale in
    grey (cheap for JPEG, whose decoder scales while decoding), enough to catch files cut before
    their first scan line. ``strict`` also refuses files cut before their end marker.

    Raises:
        ImageDecodeError: empty, unknown format, corrupt or truncated, or over ``max_pixels``.
    """
    header = read_header(data, max_pixels=max_pixels)
    if strict and (reason := truncation_reason(data)):
        raise ImageDecodeError(reason)
    buffer = np.frombuffer(data, np.uint8)
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error:  # images under 8 pixels a side cannot be reduced
        try:
            decoded = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
        except cv2.error:
            decoded = None
    if decoded is None or decoded.size == 0:
        raise ImageDecodeError(
            f"corrupt or truncated {header.format.label} file: it does not decode"
        )
    return header


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG file bytes of an RGB uint8 ``[H, W, 3]`` (or grey ``[H, W]``) array."""
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise ImageDecodeError(f"image array: expected dtype uint8, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ImageDecodeError(
            f"image array: expected shape [H, W, 3] (RGB) or [H, W] (grey), got {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageDecodeError(f"image array: empty image of shape {array.shape}")
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ImageDecodeError("image array: PNG encoding failed")
    return buf.tobytes()


def read_mask(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """bool ``[H, W]`` from a mask image file: non-zero = inside (0/1 and 0/255 masks alike).

    Raises:
        ImageDecodeError: unreadable, not an image, or over ``max_pixels``.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"mask {source}: cannot be read ({exc.strerror})") from None
    try:
        read_header(data, max_pixels=max_pixels)
        mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    except (ImageDecodeError, cv2.error) as exc:
        raise ImageDecodeError(f"mask {source}: {exc}") from None
    if mask is None:
        raise ImageDecodeError(f"mask {source}: corrupt or truncated image")
    return mask > 0


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``: the content address of an image (or any file)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
