"""Image inputs of the client: encoding, validation and batch sources (files, folders, zips).

The server takes encoded image files (JPEG, PNG, BMP or WebP bytes). The client checks them
before sending, with the server's own check (:func:`loadcheck.imageio.check_image`: header,
pixel limit, a cheap decode), so that a file the server would refuse costs no round trip and
yields a clear reason.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from loadcheck import imageio
from loadcheck.client.errors import InvalidImageError
from loadcheck.imageio import DEFAULT_MAX_PIXELS, ImageDecodeError, is_image_name

#: What :meth:`InspectionClient.inspect` accepts: a path, encoded file bytes, or an RGB
#: uint8 ``[H, W, 3]`` array (or grey ``[H, W]``), encoded as PNG before sending.
ImageInput = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray

#: Largest encoded image the client sends (bytes); the gateway applies its own limit.
DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: Largest image the client sends (pixels, from its header): the server's default limit.
DEFAULT_MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS


class SourceError(ValueError):
    """A batch source (file, folder or zip) does not exist or cannot be read as one."""


def check_image_bytes(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> str:
    """Check that ``data`` is one image the server accepts; returns its format name
    (``"JPEG"``, ``"PNG"``, ``"BMP"`` or ``"WebP"``).

    The size its header declares is checked against ``max_pixels`` before anything is decoded,
    then the file is decoded at 1/8 scale in grey (:func:`loadcheck.imageio.check_image`).

    Raises:
        InvalidImageError: with the reason (empty, too many bytes or pixels, unknown format,
            corrupt or truncated).
    """
    if len(data) > max_bytes:
        raise InvalidImageError(
            f"the image has {len(data)} bytes; at most {max_bytes} bytes are accepted"
        )
    try:
        return imageio.check_image(data, max_pixels=max_pixels).format.label
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from None


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an RGB uint8 ``[H, W, 3]`` (or grey ``[H, W]``) array as PNG file bytes."""
    try:
        return imageio.encode_png(rgb)
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from None


def image_bytes(image: ImageInput) -> bytes:
    """The encoded file bytes to send for ``image`` (a path, bytes, or an RGB uint8 array)."""
    if isinstance(image, np.ndarray):
        return encode_png(image)
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InvalidImageError(f"cannot read image file {path}: {exc.strerror}") from exc
    raise TypeError(
        f"image: expected a path, bytes or an RGB uint8 array, got {type(image).__name__}"
    )


def decode_rgb(image: ImageInput, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode ``image`` to an RGB uint8 ``[H, W, 3]`` array (arrays are returned as RGB).

    Raises:
        InvalidImageError: not an image, corrupt, or over ``max_pixels`` (from its header).
    """
    if isinstance(image, np.ndarray):
        array = np.asarray(image)
        if array.dtype != np.uint8 or not (
            array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
        ):
            raise InvalidImageError(
                f"image array: expected uint8 [H, W, 3] or [H, W], got {array.dtype} {array.shape}"
            )
        return np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array
    try:
        return imageio.decode_image(image_bytes(image), max_pixels=max_pixels)
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from None


@dataclass(frozen=True)
class ImageSource:
    """One image of a batch: a file, or a member of a zip archive.

    Attributes:
        path: the file, or the zip archive holding the image.
        member: the member name inside the archive, or None for a plain file.
    """

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        """How the image is named in reports: ``dir/a.jpg`` or ``batch.zip:a.jpg``."""
        return f"{self.path}:{self.member}" if self.member is not None else str(self.path)

    @property
    def stem(self) -> str:
        """The file name without directory and extension (for overlay file names)."""
        return Path(self.member).stem if self.member is not None else self.path.stem


def _zip_members(path: Path) -> list[ImageSource]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and is_image_name(info.filename)
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path}: not a readable zip archive ({exc})") from exc
    return [ImageSource(path, name) for name in sorted(names)]


def collect_sources(paths: Iterable[str | os.PathLike]) -> list[ImageSource]:
    """Expand files, folders (recursively) and zip archives into a list of images, in order.

    Folders and archives contribute files whose extension is one of
    :data:`loadcheck.imageio.IMAGE_EXTENSIONS` (hidden files are not images);
    a file named explicitly is taken whatever its extension (and fails later if not an image).

    Raises:
        SourceError: a path does not exist, or a ``.zip`` file is not a zip archive.
    """
    sources: list[ImageSource] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and is_image_name(p.relative_to(path).as_posix())
            )
            sources.extend(ImageSource(p) for p in files)
        elif path.is_file():
            if path.suffix.lower() == ".zip" or (
                not is_image_name(path.name) and zipfile.is_zipfile(path)
            ):
                sources.extend(_zip_members(path))
            else:
                sources.append(ImageSource(path))
        else:
            raise SourceError(f"{path}: no such file or folder")
    return sources


class SourceReader:
    """Reads :class:`ImageSource` bytes, keeping each zip archive open once (a context manager)."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._archives: dict[Path, zipfile.ZipFile] = {}

    def read(self, source: ImageSource) -> bytes:
        """The encoded bytes of ``source``.

        Raises:
            InvalidImageError: the file or member cannot be read or is over ``max_bytes``.
        """
        try:
            if source.member is None:
                size = source.path.stat().st_size
                if size > self.max_bytes:
                    raise InvalidImageError(
                        f"the image has {size} bytes; at most {self.max_bytes} bytes are accepted"
                    )
                return source.path.read_bytes()
            archive = self._archives.get(source.path)
            if archive is None:
                archive = self._archives[source.path] = zipfile.ZipFile(source.path)
            info = archive.getinfo(source.member)
            if info.file_size > self.max_bytes:
                raise InvalidImageError(
                    f"the image has {info.file_size} bytes; at most {self.max_bytes} bytes are "
                    "accepted"
                )
            return archive.read(info)
        except (OSError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
            raise InvalidImageError(f"cannot read {source.label}: {exc}") from exc

    def close(self) -> None:
        for archive in self._archives.values():
            archive.close()
        self._archives.clear()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
