"""Reading the legacy fitting-data zips (qualified / unqualified), with every safety check.

Expected layout: images directly at the archive root (``*.jpg|jpeg|png|bmp|webp``, any case).
Rejected with a clear error (nothing is written): a corrupt archive, entries with ``..`` or an
absolute path, zip bombs (total uncompressed size, per-entry compression ratio, entry count),
images inside folders, unreadable or truncated images, images whose header declares more pixels
than serving accepts (all listed by name; the size is read from the header, so such an image is
never decoded). Skipped and reported: non-image files, macOS/Windows system files, duplicate
images within one archive.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from loadcheck.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS_TEXT,
    ImageDecodeError,
    decode_image,
    image_extension,
    sha256_bytes,
)
from loadcheck.integrators.errors import IngestError

SYSTEM_FILES = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
LAYOUT = (
    "expected layout: images directly at the archive root, e.g.\n"
    "  qualified.zip\n"
    "  ├── IMG_0001.jpg\n"
    "  ├── IMG_0002.png\n"
    "  └── ...\n"
    "(create it with: cd photos && zip ../qualified.zip *.jpg)"
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """Zip-bomb limits: total uncompressed bytes, bytes per entry, ratio per entry, entries;
    and the image-bomb limit: pixels per image, as its header declares (serving's limit)."""

    max_total_bytes: int = 4 << 30
    max_entry_bytes: int = 256 << 20
    max_ratio: float = 100.0
    max_entries: int = 50_000
    ratio_floor_bytes: int = 1 << 20  # entries smaller than this skip the ratio test
    max_image_pixels: int = DEFAULT_MAX_PIXELS


def check_image(data: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Check one fitting image as serving would take it; returns its ``(width, height)`` in
    pixels, EXIF orientation applied (the size the segmentator's masks have).

    The header is read first (:func:`loadcheck.imageio.read_header`): a file over
    ``max_pixels`` (serving's limit) or with an unreadable header is refused without decoding.
    Files cut before their end marker are refused too.

    Raises:
        IngestError: empty, truncated, corrupt, not a JPEG/PNG/BMP/WebP image, or over
            ``max_pixels`` (the message names ``name``).
    """
    try:
        rgb = decode_image(data, max_pixels=max_pixels, strict=True)
    except ImageDecodeError as exc:
        raise IngestError(f"{name}: {exc}") from None
    return int(rgb.shape[1]), int(rgb.shape[0])


@dataclass(frozen=True)
class ArchiveImage:
    """One accepted image of an archive."""

    name: str
    data: bytes
    ext: str
    sha256: str
    width: int
    height: int


@dataclass
class ArchiveReport:
    """What one archive held: accepted images and skipped entries with reasons."""

    path: Path
    images: list[ArchiveImage] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _unsafe(name: str) -> bool:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return True
    return ".." in PurePosixPath(norm).parts


def _read_entry(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, budget: int, limits: ZipLimits
) -> bytes:
    """Read one entry, never more than its declared size (a lying header is a bomb)."""
    cap = min(info.file_size, limits.max_entry_bytes, budget)
    chunks: list[bytes] = []
    total = 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(min(_CHUNK, cap + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise IngestError(
                        f"{label}: entry {info.filename!r} decompresses to more than its declared "
                        f"size or the limits ({cap} bytes); refusing a possible zip bomb"
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise IngestError(f"{label}: entry {info.filename!r} is corrupt: {exc}") from exc
    except RuntimeError as exc:  # encrypted entries
        raise IngestError(f"{label}: entry {info.filename!r} cannot be read: {exc}") from exc
    return b"".join(chunks)


def _check_limits(infos: list[zipfile.ZipInfo], label: str, limits: ZipLimits) -> None:
    if len(infos) > limits.max_entries:
        raise IngestError(f"{label}: {len(infos)} entries; the limit is {limits.max_entries}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise IngestError(
            f"{label}: uncompressed size {total} bytes exceeds the limit of "
            f"{limits.max_total_bytes} bytes; refusing a possible zip bomb"
        )
    for info in infos:
        if info.file_size > limits.max_entry_bytes:
            raise IngestError(
                f"{label}: entry {info.filename!r} is {info.file_size} bytes uncompressed; the "
                f"limit per entry is {limits.max_entry_bytes} bytes"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise IngestError(
                f"{label}: entry {info.filename!r} has compression ratio {ratio:.0f}:1 (limit "
                f"{limits.max_ratio:.0f}:1); refusing a possible zip bomb"
            )


def read_image_archive(
    path: Path | str,
    label: str,
    limits: ZipLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ArchiveReport:
    """Validate and read every image of one fitting-data zip (nothing is written).

    Args:
        path: the zip file.
        label: how the archive is named in messages (e.g. ``"qualified zip q.zip"``).

    Raises:
        IngestError: any of the rejections listed in the module docstring.
    """
    limits = limits or ZipLimits()
    src = Path(path)
    if not src.is_file():
        raise IngestError(f"{label}: no such file {src}")
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(
            f"{label}: not a valid zip archive (corrupt or not a zip): {exc}"
        ) from exc
    report = ArchiveReport(src)
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        unsafe = [i.filename for i in zf.infolist() if _unsafe(i.filename)]
        if unsafe:
            raise IngestError(
                f"{label}: unsafe entry paths (absolute or with '..'): {', '.join(unsafe[:10])}"
            )
        _check_limits(infos, label, limits)
        nested = [
            i.filename
            for i in infos
            if "/" in i.filename.replace("\\", "/")
            and image_extension(i.filename)
            and not i.filename.startswith("__MACOSX/")
        ]
        if nested:
            shown = ", ".join(nested[:5]) + (" ..." if len(nested) > 5 else "")
            raise IngestError(
                f"{label}: {len(nested)} images are inside folders ({shown}), not at the archive "
                f"root.\n{LAYOUT}"
            )
        budget = limits.max_total_bytes
        bad: list[str] = []
        seen: dict[str, str] = {}
        for done, info in enumerate(infos, 1):
            if progress:
                progress(done, len(infos))
            name = info.filename
            if any(name.startswith(s) or name.endswith(s) for s in SYSTEM_FILES):
                report.skipped.append((name, "system file"))
                continue
            ext = image_extension(name)
            if ext is None:
                report.skipped.append((name, f"not an image (expected {IMAGE_EXTENSIONS_TEXT})"))
                continue
            data = _read_entry(zf, info, label, budget, limits)
            budget -= len(data)
            try:
                width, height = check_image(data, name, max_pixels=limits.max_image_pixels)
            except IngestError as exc:
                bad.append(str(exc))
                continue
            sha = sha256_bytes(data)
            if sha in seen:
                report.skipped.append((name, f"duplicate of {seen[sha]}"))
                continue
            seen[sha] = name
            report.images.append(ArchiveImage(name, data, ext, sha, width, height))
        if bad:
            raise IngestError(
                f"{label}: {len(bad)} unreadable or truncated images:\n  " + "\n  ".join(bad)
            )
    if not report.images:
        raise IngestError(f"{label}: no images found at the archive root.\n{LAYOUT}")
    return report
