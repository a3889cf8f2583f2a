"""The client's image inputs: the server's own check before sending, arrays, batch sources."""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import cv2
import hostile_images as hostile
import numpy as np
import pytest
from client_fakes import FakeTransport, jpeg_bytes

from loadcheck.client import AsyncInspectionClient, InspectionClient
from loadcheck.client.errors import InvalidImageError
from loadcheck.client.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageSource,
    SourceError,
    SourceReader,
    check_image_bytes,
    collect_sources,
    decode_rgb,
    encode_png,
    image_bytes,
)
from loadcheck.imageio import DEFAULT_MAX_PIXELS


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello world, not an image", "not an image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "corrupt or truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt PNG: the first chunk is not a 13-byte IHDR"),
        (hostile.png_first_chunk_declaring_3_gb(), "corrupt PNG: the first chunk is not"),
        (hostile.png_signature_then_random_bytes(), "corrupt PNG: the first chunk is not"),
        (jpeg_bytes()[:300], "corrupt or truncated JPEG file"),
        (hostile.jpeg_without_frame_header(), "before the frame header"),
    ],
    ids=[
        "empty",
        "text",
        "JPEG of zeros",
        "PNG of zeros",
        "33-byte PNG declaring a 3 GB chunk",
        "random bytes after a PNG signature",
        "truncated JPEG",
        "JPEG without SOF",
    ],
)
def test_bad_bytes_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidImageError, match=reason):
        check_image_bytes(data)


def test_the_client_refuses_what_the_server_refuses_with_the_same_pixel_limit() -> None:
    assert DEFAULT_MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS
    with pytest.raises(
        InvalidImageError, match=r"20000x20000 = 400000000 pixels is over the limit"
    ):
        check_image_bytes(hostile.png_declaring(20_000, 20_000))
    with pytest.raises(InvalidImageError, match="over the limit of 4000 pixels"):
        check_image_bytes(jpeg_bytes(), max_pixels=4000)


def test_an_image_over_the_pixel_limit_is_refused_before_anything_is_sent() -> None:
    transport = FakeTransport()
    client = AsyncInspectionClient(transport=transport)
    with pytest.raises(InvalidImageError, match="30000x30000 = 900000000 pixels"):
        asyncio.run(client.inspect(hostile.png_declaring(30_000, 30_000), "site_a"))
    with (
        InspectionClient(transport=transport, max_image_pixels=1000) as small,
        pytest.raises(InvalidImageError, match="over the limit of 1000 pixels"),
    ):
        small.inspect(jpeg_bytes(), "site_a")
    assert transport.calls == []


def test_a_file_over_the_limit_is_refused_without_being_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(buf: np.ndarray, flags: int) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    with pytest.raises(InvalidImageError, match="over the limit"):
        check_image_bytes(hostile.png_declaring(30_000, 30_000))


def test_images_over_the_size_limit_are_refused() -> None:
    with pytest.raises(InvalidImageError, match="at most 100 bytes"):
        check_image_bytes(jpeg_bytes(), max_bytes=100)


@pytest.mark.parametrize(
    ("ext", "name"), [(".jpg", "JPEG"), (".png", "PNG"), (".bmp", "BMP"), (".webp", "WebP")]
)
def test_a_real_image_passes_the_check_and_names_its_format(ext: str, name: str) -> None:
    assert check_image_bytes(cv2.imencode(ext, np.zeros((3, 5, 3), np.uint8))[1].tobytes()) == name


def test_an_rgb_array_is_sent_as_a_png_with_its_colours() -> None:
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0] = 200  # red
    data = image_bytes(rgb)
    assert check_image_bytes(data) == "PNG"
    assert np.array_equal(decode_rgb(data), rgb)


def test_a_grey_array_is_drawn_on_as_rgb() -> None:
    grey = np.full((4, 6), 90, np.uint8)
    assert np.array_equal(decode_rgb(grey), np.full((4, 6, 3), 90, np.uint8))


def test_decoding_bytes_that_are_not_an_image_is_an_invalid_image() -> None:
    with pytest.raises(InvalidImageError, match="not a 13-byte IHDR"):
        decode_rgb(hostile.png_first_chunk_declaring_3_gb())


@pytest.mark.parametrize(
    "array",
    [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8)],
)
def test_arrays_that_are_not_uint8_rgb_are_refused(array: np.ndarray) -> None:
    with pytest.raises(InvalidImageError, match="image array"):
        encode_png(array)


def test_a_missing_image_file_is_an_invalid_image(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageError, match="cannot read"):
        image_bytes(tmp_path / "nope.jpg")


def test_unsupported_input_types_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="path, bytes or an RGB uint8 array"):
        image_bytes(42)  # type: ignore[arg-type]


def make_tree(tmp_path: Path) -> Path:
    (tmp_path / "pics" / "sub").mkdir(parents=True)
    (tmp_path / "pics" / "b.jpg").write_bytes(jpeg_bytes(10))
    (tmp_path / "pics" / "a.PNG").write_bytes(
        cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    )
    (tmp_path / "pics" / "sub" / "c.jpeg").write_bytes(jpeg_bytes(20))
    (tmp_path / "pics" / "notes.txt").write_text("not an image")
    (tmp_path / "pics" / ".hidden.jpg").write_bytes(b"x")
    with zipfile.ZipFile(tmp_path / "batch.zip", "w") as archive:
        archive.writestr("z2.jpg", jpeg_bytes(30))
        archive.writestr("z1.jpg", jpeg_bytes(40))
        archive.writestr("__MACOSX/._z1.jpg", b"junk")
        archive.writestr("readme.md", "text")
        archive.writestr("folder/", "")
    return tmp_path


def test_folders_are_searched_recursively_for_images_in_sorted_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    labels = [s.label for s in collect_sources([root / "pics"])]
    assert labels == [str(root / "pics" / n) for n in ("a.PNG", "b.jpg", "sub/c.jpeg")]


def test_zip_archives_contribute_their_image_members(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    sources = collect_sources([root / "batch.zip"])
    assert [s.member for s in sources] == ["z1.jpg", "z2.jpg"]
    assert sources[0].label == f"{root / 'batch.zip'}:z1.jpg"
    assert sources[0].stem == "z1"


def test_an_explicit_file_is_taken_whatever_its_extension(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    assert collect_sources([root / "pics" / "notes.txt"]) == [
        ImageSource(root / "pics" / "notes.txt")
    ]


def test_a_missing_path_or_a_broken_zip_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        collect_sources([tmp_path / "missing"])
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(SourceError, match="not a readable zip"):
        collect_sources([tmp_path / "broken.zip"])


def test_the_reader_reads_files_and_zip_members(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with SourceReader() as reader:
        assert reader.read(ImageSource(root / "batch.zip", "z1.jpg")) == jpeg_bytes(40)
        assert reader.read(ImageSource(root / "pics" / "b.jpg")) == jpeg_bytes(10)
        with pytest.raises(InvalidImageError, match="cannot read"):
            reader.read(ImageSource(root / "batch.zip", "missing.jpg"))


def test_the_reader_refuses_members_over_its_limit(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    with SourceReader(max_bytes=50) as reader, pytest.raises(InvalidImageError, match="at most 50"):
        reader.read(ImageSource(root / "batch.zip", "z1.jpg"))
