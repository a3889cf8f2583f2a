"""Malformed and oversized image files of issue 23, built byte by byte (importable as
``hostile_images`` from any unit test, like ``network_cards``).

Each builder says in its name what the file claims; none of them holds the pixels it claims.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_first_chunk_declaring_3_gb() -> bytes:
    """33 bytes: the PNG signature, then a first chunk whose length field says ~3 GB (no IHDR).

    OpenCV reserves the declared length before noticing that the bytes are not there.
    """
    data = PNG_SIGNATURE + struct.pack(">I", 3_000_000_000) + b"IDAT" + bytes(17)
    assert len(data) == 33
    return data


def png_signature_then_random_bytes(seed: int = 0, count: int = 16) -> bytes:
    """The PNG signature followed by ``count`` random bytes."""
    return PNG_SIGNATURE + np.random.default_rng(seed).bytes(count)


def png_declaring(width: int, height: int, *, grey: bool = True) -> bytes:
    """A well-formed PNG whose IHDR says ``width`` x ``height`` (8-bit grey or RGB), with a
    one-row IDAT: what a header check sees, a few dozen bytes on disk."""
    color_type = 0 if grey else 2
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    row = bytes(1 + width * (1 if grey else 3))
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(row))
        + png_chunk(b"IEND", b"")
    )


def blank_grey_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit grey PNG of zeros (30000 x 30000 is ~4 MB, 900 MB decoded).

    Built by streaming the rows through zlib (level 1, ~1.6 s for 900 MB), never holding the
    decoded image.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(1)
    rows_per_block = max(1, 16_000_000 // (width + 1))
    parts = []
    for start in range(0, height, rows_per_block):
        rows = min(rows_per_block, height - start)
        parts.append(compressor.compress(bytes((width + 1) * rows)))
    parts.append(compressor.flush())
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def jpeg_without_frame_header() -> bytes:
    """SOI, an APP0 (JFIF) segment, a DQT, then scan data and EOI: no SOF anywhere."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sos = b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + dqt + sos + bytes(500) + b"\xff\xd9"
