"""Every bad fitting-data archive gets a clear error; non-images are skipped and reported."""

from __future__ import annotations

import resource
import time
import zipfile

import cv2
import hostile_images as hostile
import numpy as np
import pytest
from integrator_files import jpeg_bytes, png_bytes, write_zip

from loadcheck.imageio import DEFAULT_MAX_PIXELS
from loadcheck.integrators.errors import IngestError
from loadcheck.integrators.ingest import ZipLimits, check_image, read_image_archive


def test_a_valid_archive_yields_its_images_with_sizes(tmp_path):
    path = write_zip(tmp_path / "q.zip", {"a.jpg": jpeg_bytes(1), "B.PNG": png_bytes(2)})
    report = read_image_archive(path, "qualified zip")
    assert [(i.name, i.ext, i.width, i.height) for i in report.images] == [
        ("a.jpg", "jpg", 96, 64),
        ("B.PNG", "png", 96, 64),
    ]
    assert report.skipped == []


def test_a_corrupt_zip_is_rejected(tmp_path):
    path = tmp_path / "q.zip"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(IngestError, match="qualified zip: not a valid zip archive"):
        read_image_archive(path, "qualified zip")


def test_a_truncated_zip_is_rejected(tmp_path):
    path = write_zip(
        tmp_path / "q.zip", {f"{i}.jpg": jpeg_bytes(i) for i in range(5)}, zipfile.ZIP_STORED
    )
    path.write_bytes(path.read_bytes()[:-400])
    with pytest.raises(IngestError, match="not a valid zip archive"):
        read_image_archive(path, "qualified zip")


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        read_image_archive(tmp_path / "none.zip", "qualified zip")


@pytest.mark.parametrize("name", ["../evil.jpg", "a/../../evil.jpg", "/abs.jpg", "C:/x.jpg"])
def test_entries_with_parent_or_absolute_paths_are_rejected(tmp_path, name):
    path = write_zip(tmp_path / "q.zip", {"ok.jpg": jpeg_bytes(1), name: jpeg_bytes(2)})
    with pytest.raises(IngestError, match="unsafe entry paths"):
        read_image_archive(path, "qualified zip")


def test_an_entry_with_a_huge_compression_ratio_is_refused_as_a_zip_bomb(tmp_path):
    path = write_zip(tmp_path / "q.zip", {"ok.jpg": jpeg_bytes(1), "bomb.png": bytes(4 << 20)})
    with pytest.raises(IngestError, match=r"compression ratio \d+:1 \(limit 100:1\).*zip bomb"):
        read_image_archive(path, "qualified zip")


def test_a_total_uncompressed_size_over_the_limit_is_refused(tmp_path):
    path = write_zip(tmp_path / "q.zip", {f"{i}.jpg": jpeg_bytes(i) for i in range(3)})
    with pytest.raises(IngestError, match=r"uncompressed size .* exceeds the limit"):
        read_image_archive(path, "qualified zip", ZipLimits(max_total_bytes=2000))


def test_too_many_entries_are_refused(tmp_path):
    path = write_zip(tmp_path / "q.zip", {f"{i}.jpg": jpeg_bytes(i) for i in range(3)})
    with pytest.raises(IngestError, match="3 entries; the limit is 2"):
        read_image_archive(path, "qualified zip", ZipLimits(max_entries=2))


def test_images_inside_a_folder_are_refused_and_the_expected_layout_is_shown(tmp_path):
    path = write_zip(tmp_path / "q.zip", {"photos/a.jpg": jpeg_bytes(1)})
    with pytest.raises(IngestError) as info:
        read_image_archive(path, "qualified zip")
    message = str(info.value)
    assert "inside folders (photos/a.jpg)" in message
    assert "expected layout: images directly at the archive root" in message
    assert "├── IMG_0001.jpg" in message


def test_non_image_files_are_skipped_and_reported(tmp_path):
    path = write_zip(
        tmp_path / "q.zip",
        {
            "a.jpg": jpeg_bytes(1),
            "notes.txt": b"hello",
            "__MACOSX/._a.jpg": b"x",
            "docs/readme.md": b"#",
        },
    )
    report = read_image_archive(path, "qualified zip")
    assert [i.name for i in report.images] == ["a.jpg"]
    skipped = dict(report.skipped)
    assert skipped["notes.txt"].startswith("not an image")
    assert skipped["docs/readme.md"].startswith("not an image")
    assert skipped["__MACOSX/._a.jpg"] == "system file"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("cut.jpg", jpeg_bytes(3)[:-300], "JPEG data ends before the end-of-image marker"),
        ("cut.png", png_bytes(3)[:-100], "corrupt or truncated PNG: chunk b'IDAT' declares"),
        ("noise.jpg", b"\x00" * 500, "not an image: expected a JPEG, PNG, BMP or WebP"),
        ("empty.png", b"", r"the image is empty \(0 bytes\)"),
        (
            "bomb.png",
            hostile.png_first_chunk_declaring_3_gb(),
            "corrupt PNG: the first chunk is not",
        ),
        ("random.png", hostile.png_signature_then_random_bytes(), "corrupt PNG: the first"),
        ("nosof.jpg", hostile.jpeg_without_frame_header(), "corrupt JPEG: scan data or end"),
        ("huge.png", hostile.png_declaring(100_000, 100_000), "100000x100000 = 10000000000"),
        ("big.png", hostile.png_declaring(20_000, 20_000), "20000x20000 = 400000000 pixels"),
    ],
)
def test_unreadable_or_truncated_images_are_reported_by_name(tmp_path, name, data, reason):
    path = write_zip(tmp_path / "q.zip", {"fine.jpg": jpeg_bytes(1), name: data})
    with pytest.raises(
        IngestError, match=rf"1 unreadable or truncated images:\n  {name}: {reason}"
    ):
        read_image_archive(path, "qualified zip")


def test_duplicate_images_in_one_archive_are_kept_once(tmp_path):
    same = jpeg_bytes(5)
    path = write_zip(tmp_path / "q.zip", {"a.jpg": same, "b.jpg": same})
    report = read_image_archive(path, "qualified zip")
    assert [i.name for i in report.images] == ["a.jpg"]
    assert report.skipped == [("b.jpg", "duplicate of a.jpg")]


def test_an_archive_without_images_is_refused(tmp_path):
    path = write_zip(tmp_path / "q.zip", {"notes.txt": b"hi"})
    with pytest.raises(IngestError, match="no images found at the archive root"):
        read_image_archive(path, "qualified zip")


@pytest.mark.parametrize("side", [100_000, 20_000])
def test_an_image_over_servings_pixel_limit_is_a_clean_error_naming_it_never_decoded(
    tmp_path, side, monkeypatch
):
    decoded: list[int] = []
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(flags))
    path = write_zip(tmp_path / "q.zip", {"huge.png": hostile.png_declaring(side, side)})
    with pytest.raises(IngestError) as info:
        read_image_archive(path, "qualified zip")
    message = str(info.value)
    assert f"huge.png: {side}x{side} = {side * side} pixels is over the limit of " in message
    assert f"limit of {DEFAULT_MAX_PIXELS} pixels" in message
    assert decoded == []


def test_add_data_with_a_20000_by_20000_png_stores_nothing(store, tmp_path):
    store.create("a")
    big = hostile.png_declaring(20_000, 20_000)
    q = write_zip(tmp_path / "q.zip", {"ok.jpg": jpeg_bytes(1), "big.png": big})
    u = write_zip(tmp_path / "u.zip", {"fine.jpg": jpeg_bytes(2)})
    with pytest.raises(IngestError, match=r"big\.png: 20000x20000 = 400000000 pixels is over"):
        store.add_data("a", q, u)
    assert store.sample_counts("a") == {"qualified": 0, "unqualified": 0}
    assert not store.images.root.exists() or not any(store.images.root.rglob("*.*"))


def test_the_pixel_limit_of_ingestion_is_servings_and_can_be_lowered(tmp_path):
    assert ZipLimits().max_image_pixels == DEFAULT_MAX_PIXELS
    path = write_zip(tmp_path / "q.zip", {"a.jpg": jpeg_bytes(1)})
    with pytest.raises(IngestError, match=r"a\.jpg: 96x64 = 6144 pixels is over the limit of 6000"):
        read_image_archive(path, "qualified zip", ZipLimits(max_image_pixels=6000))


def test_the_33_byte_png_is_refused_in_milliseconds_without_a_memory_peak():
    data = hostile.png_first_chunk_declaring_3_gb()
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(IngestError, match=r"bomb\.png: corrupt PNG"):
        check_image(data, "bomb.png")
    assert time.perf_counter() - start < 0.05
    # OpenCV reserved ~3 GB for this file; a peak that large would raise the high-water mark.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib < 256 * 1024


def test_the_size_of_an_accepted_image_is_as_decoded_with_its_exif_orientation():
    jpeg = cv2.imencode(".jpg", np.zeros((20, 40, 3), np.uint8))[1].tobytes()
    orientation_6 = b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"  # tag 0x0112 = 6
    tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + orientation_6
    payload = b"Exif\x00\x00" + tiff + b"\x00\x00\x00\x00"
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    assert check_image(jpeg[:2] + app1 + jpeg[2:], "r.jpg") == (20, 40)
