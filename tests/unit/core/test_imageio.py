"""Image I/O (:mod:`loadcheck.imageio`): decoding, the header check before any decoder, the
hostile files of issue 23, masks, extensions and content hashes; and the preprocess letterbox."""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import hostile_images as hostile
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadcheck.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageDecodeError,
    ImageFormat,
    check_image,
    decode_image,
    image_extension,
    is_image_name,
    read_header,
    read_mask,
    sha256_bytes,
    sha256_file,
    sniff_format,
    truncation_reason,
)
from loadcheck.pipeline.preprocess import Letterbox, letterbox

FORMATS = [".jpg", ".png", ".bmp", ".webp"]


def _encode(image: np.ndarray, ext: str, params: list[int] | None = None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


def _noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, np.uint8)


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment with one Orientation (0x0112) tag after SOI."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00\x00\x00\x00"
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fails the test if OpenCV is asked to decode anything; returns the list of attempts."""
    calls: list[int] = []

    def refuse(buf: np.ndarray, flags: int) -> None:
        calls.append(flags)
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    return calls


# ---------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("ext", FORMATS)
def test_every_supported_format_decodes_to_rgb_of_the_right_size(ext: str) -> None:
    bgr = np.zeros((30, 50, 3), np.uint8)
    bgr[..., 2] = 200  # red in BGR
    rgb = decode_image(_encode(bgr, ext))
    assert rgb.shape == (30, 50, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb[15, 25, 0]) - 200) <= 3 and int(rgb[15, 25, 2]) <= 3


@pytest.mark.parametrize("ext", FORMATS)
def test_the_declared_size_is_read_from_the_header(ext: str) -> None:
    header = read_header(_encode(np.zeros((30, 50, 3), np.uint8), ext))
    assert (header.width, header.height) == (50, 30)
    assert header.format == sniff_format(_encode(np.zeros((2, 2, 3), np.uint8), ext))


def test_gray_and_rgba_images_become_three_channel_rgb() -> None:
    gray = decode_image(_encode(np.full((8, 9), 77, np.uint8), ".png"))
    assert gray.shape == (8, 9, 3) and np.all(gray == 77)
    bgra = np.zeros((8, 9, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 128  # blue, half transparent
    rgba = decode_image(_encode(bgra, ".png"))
    assert rgba.shape == (8, 9, 3) and rgba[0, 0, 2] == 255 and rgba[0, 0, 0] == 0


def test_sixteen_bit_pngs_become_eight_bit_rgb() -> None:
    rgb = decode_image(_encode(np.full((6, 7, 3), 65535, np.uint16), ".png"))
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 7, 3) and np.all(rgb == 255)


def test_exif_orientation_is_applied() -> None:
    rotated = decode_image(
        _with_exif_orientation(_encode(np.zeros((20, 40, 3), np.uint8), ".jpg"), 6)
    )
    assert rotated.shape[:2] == (40, 20)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello world, not an image", "not an image"),
        (b"GIF89a not supported", "expected a JPEG, PNG, BMP or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "not a 13-byte IHDR"),
    ],
)
def test_bad_bytes_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data)


def test_a_truncated_jpeg_is_refused() -> None:
    data = _encode(_noise((64, 64, 3)), ".jpg")
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(data[: len(data) // 4])


def test_a_strict_decode_refuses_a_file_cut_before_its_end_marker() -> None:
    data = _encode(_noise((64, 64, 3)), ".png")
    assert truncation_reason(data) is None
    with pytest.raises(ImageDecodeError, match="IEND"):
        decode_image(data[:-12], strict=True)


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding(
    no_decoding: list[int],
) -> None:
    with pytest.raises(ImageDecodeError, match="over the limit of 1000000 pixels"):
        decode_image(hostile.png_declaring(100_000, 100_000), max_pixels=1_000_000)
    assert no_decoding == []


def test_the_default_pixel_limit_lets_an_8k_frame_through_and_refuses_more() -> None:
    assert read_header(hostile.png_declaring(7680, 4320)).pixels == 7680 * 4320
    with pytest.raises(ImageDecodeError, match=f"over the limit of {DEFAULT_MAX_PIXELS}"):
        read_header(hostile.png_declaring(20_000, 20_000))


def test_sniff_format_names_the_container() -> None:
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ImageFormat.WEBP == "webp"
    assert sniff_format(b"BM" + b"\x00" * 10) == ImageFormat.BMP


# ---------------------------------------------------------------------------- check_image


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3, 3), (64, 96, 3), (40, 60)])
def test_check_image_accepts_every_format_and_size_down_to_one_pixel(
    ext: str, shape: tuple[int, ...]
) -> None:
    header = check_image(_encode(_noise(shape), ext), strict=True)
    assert (header.height, header.width) == shape[:2]


def test_check_image_refuses_an_image_over_the_limit_without_decoding_it(
    no_decoding: list[int],
) -> None:
    with pytest.raises(ImageDecodeError, match="30000x30000 = 900000000 pixels is over the limit"):
        check_image(hostile.png_declaring(30_000, 30_000))
    assert no_decoding == []


def test_check_image_refuses_a_png_whose_pixel_data_does_not_decode() -> None:
    good = _encode(_noise((32, 32, 3)), ".png")
    ihdr_end = 33
    broken = good[:ihdr_end] + hostile.png_chunk(b"IDAT", b"not zlib data") + good[-12:]
    with pytest.raises(ImageDecodeError, match="corrupt or truncated PNG file"):
        check_image(broken)


# ---------------------------------------------------------------------------- hostile files


def _with_chunk_claiming_more_than_present() -> bytes:
    data = _encode(_noise((8, 8, 3)), ".png")
    return data[:33] + struct.pack(">I", 2_000_000_000) + b"tEXt" + b"x" * 20


def _jpeg_with_scan_before_frame() -> bytes:
    data = _encode(_noise((16, 16, 3)), ".jpg")
    sof = data.index(b"\xff\xc0")
    return data[:sof] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + data[sof:]


def _jpeg_with_many_scans() -> bytes:
    data = _encode(_noise((16, 16, 3)), ".jpg")
    return data[:-2] + b"\xff\xda\x00\x02" * 600 + b"\xff\xd9"


def _png_with_many_chunks() -> bytes:
    data = _encode(_noise((4, 4, 3)), ".png")
    return data[:33] + hostile.png_chunk(b"tEXt", b"") * 70_000 + data[33:]


def _webp_cut() -> bytes:
    data = _encode(_noise((32, 32, 3)), ".webp")
    return data[: len(data) // 2]


def _bmp_with_unknown_header() -> bytes:
    data = bytearray(_encode(_noise((4, 4, 3)), ".bmp"))
    data[14:18] = struct.pack("<I", 999)
    return bytes(data)


HOSTILE = {
    "33-byte PNG whose first chunk declares 3 GB": (
        hostile.png_first_chunk_declaring_3_gb(),
        "not a 13-byte IHDR",
    ),
    "random bytes after a PNG signature": (
        hostile.png_signature_then_random_bytes(),
        "not a 13-byte IHDR",
    ),
    "PNG cut in the middle of its data": (
        _encode(_noise((64, 64, 3)), ".png")[:200],
        "corrupt or truncated PNG: chunk b'IDAT' declares",
    ),
    "PNG chunk claiming 2 GB after a valid IHDR": (
        _with_chunk_claiming_more_than_present(),
        "chunk b'tEXt' declares 2000000000 bytes",
    ),
    "PNG of 70000 empty chunks": (_png_with_many_chunks(), "more than 65536 chunks"),
    "PNG declaring 0 x 10 pixels": (hostile.png_declaring(0, 10), "declares 0x10 pixels"),
    "JPEG without a frame header": (
        hostile.jpeg_without_frame_header(),
        "scan data or end of image before the frame header",
    ),
    "JPEG with scan data before its frame header": (
        _jpeg_with_scan_before_frame(),
        "scan data or end of image before the frame header",
    ),
    "JPEG cut after its first marker": (b"\xff\xd8\xff\xe0\x00\x10JFIF", "no frame header"),
    "JPEG with 600 scans": (_jpeg_with_many_scans(), "601 scans"),
    "WebP cut in half": (_webp_cut(), "corrupt or truncated WebP"),
    "BMP with an unknown info header": (_bmp_with_unknown_header(), "unknown info header size"),
}


@pytest.mark.parametrize(("data", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_file_is_refused_by_the_header_check_with_its_reason(
    data: bytes, reason: str, no_decoding: list[int]
) -> None:
    start = time.perf_counter()
    with pytest.raises(ImageDecodeError, match=reason):
        read_header(data)
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data)
    with pytest.raises(ImageDecodeError, match=reason):
        check_image(data)
    assert time.perf_counter() - start < 0.5
    assert no_decoding == []


def test_the_33_byte_png_is_refused_fast_and_without_a_large_python_allocation() -> None:
    data = hostile.png_first_chunk_declaring_3_gb()
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(ImageDecodeError):
            read_header(data)
        elapsed_s = time.perf_counter() - start
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed_s < 0.05
    assert peak_bytes < 64 * 1024


# OpenCV allocates outside Python (tracemalloc does not see it): the process's peak resident
# memory is measured in a fresh interpreter, after a warm-up decode, around the hostile files.
_PEAK_SCRIPT = """
import pickle, resource, sys, time
import cv2, numpy as np
from loadcheck.imageio import ImageDecodeError, check_image, decode_image
files, max_pixels = pickle.loads(sys.stdin.buffer.read())
decode_image(cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
refused = 0
for data in files:
    for call in (decode_image, check_image):
        try:
            call(data, max_pixels=max_pixels)
        except ImageDecodeError:
            refused += 1
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mib": (after - before) / 1024, "seconds": time.perf_counter() - start,
                  "refused": refused}))
""".replace("import pickle,", "import json, pickle,")


def _peak_growth(files: list[bytes], max_pixels: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT],
        input=pickle.dumps((files, max_pixels)),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return dict(json.loads(proc.stdout.decode().strip().splitlines()[-1]))


def test_hostile_files_cost_no_memory_peak_in_a_fresh_process() -> None:
    files = [data for data, _ in HOSTILE.values()]
    figures = _peak_growth(files, DEFAULT_MAX_PIXELS)
    assert figures["refused"] == 2 * len(files)
    assert figures["growth_mib"] < 32, figures  # OpenCV alone reserved ~3 GB for the 33 bytes
    assert figures["seconds"] < 2, figures


def _mutations(seed: int, count: int) -> list[bytes]:
    """Valid small files of every format with a few header bytes overwritten at random."""
    rng = np.random.default_rng(seed)
    originals = [_encode(_noise((24, 32, 3), i), ext) for i, ext in enumerate(FORMATS)]
    out = []
    for _ in range(count):
        data = bytearray(originals[int(rng.integers(len(originals)))])
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, min(len(data), 64)))] = int(rng.integers(256))
        out.append(bytes(data))
    return out


def test_mutated_headers_stay_within_the_pixel_limit_in_a_fresh_process() -> None:
    figures = _peak_growth(_mutations(seed=23, count=400), max_pixels=1_000_000)
    assert figures["growth_mib"] < 32, figures


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fmt=st.sampled_from(FORMATS),
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=63), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
)
def test_mutated_headers_of_every_format_raise_only_the_projects_own_error(
    fmt: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_encode(_noise((24, 32, 3), 1), fmt))
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    mutated = bytes(data if cut is None else data[:cut])
    for call in (read_header, decode_image, check_image):
        try:
            result = call(mutated, max_pixels=100_000)
        except ImageDecodeError:
            continue
        if isinstance(result, np.ndarray):
            assert result.dtype == np.uint8 and result.ndim == 3 and result.shape[2] == 3
            assert result.shape[0] * result.shape[1] <= 100_000


# ---------------------------------------------------------------------------- masks


@pytest.mark.parametrize("inside", [1, 255], ids=["0-1 mask", "0-255 mask"])
def test_masks_written_as_0_1_and_as_0_255_read_alike(tmp_path: Path, inside: int) -> None:
    mask = np.zeros((12, 16), np.uint8)
    mask[3:9, 4:12] = inside
    path = tmp_path / "m.png"
    path.write_bytes(_encode(mask, ".png"))
    got = read_mask(path)
    assert got.dtype == bool and got.shape == (12, 16)
    assert np.array_equal(got, mask > 0)


def test_a_mask_that_is_not_an_image_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.png"
    path.write_bytes(hostile.png_first_chunk_declaring_3_gb())
    with pytest.raises(ImageDecodeError, match=r"mask .*m\.png: corrupt PNG"):
        read_mask(path)


# ---------------------------------------------------------------------------- names, hashes


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("a.jpg", "jpg"),
        ("dir/B.JPEG", "jpeg"),
        ("x.Png", "png"),
        ("c.bmp", "bmp"),
        ("d.webp", "webp"),
        ("dir\\e.jpg", "jpg"),
        ("notes.txt", None),
        ("noext", None),
        (".hidden.jpg", None),
        ("__MACOSX/._a.jpg", None),
        ("scan.tiff", None),
    ],
)
def test_image_names_are_recognised_by_extension_alone(name: str, ext: str | None) -> None:
    assert image_extension(name) == ext
    assert is_image_name(name) is (ext is not None)


def test_the_extension_list_is_the_formats_the_decoder_sniffs() -> None:
    assert sorted(IMAGE_EXTENSIONS) == ["bmp", "jpeg", "jpg", "png", "webp"]
    assert {f.value for f in ImageFormat} <= IMAGE_EXTENSIONS


def test_the_content_hash_of_bytes_and_of_their_file_agree(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(3 << 20)  # more than one read block
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_bytes(data) == sha256_file(path)
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# ---------------------------------------------------------------------------- letterbox


def test_letterbox_keeps_the_aspect_ratio_and_maps_points_back() -> None:
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
