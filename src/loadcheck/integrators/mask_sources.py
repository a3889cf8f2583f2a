"""Where fitting and prediction get per-truck masks from.

:class:`Segmenter` is the plug-in point: the served Triton segmentator is registered later with
:func:`register_segmenter_factory`; :class:`MasksDirSegmenter` reads given masks
(``<stem>_bed.png`` / ``<stem>_load.png``, union masks, non-zero = inside).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from loadcheck.features.trucks import split_trucks_from_masks
from loadcheck.integrators.errors import IntegratorError
from loadcheck.payloads import TruckMasks
from loadcheck.workspace.images import sha256_hex


@runtime_checkable
class Segmenter(Protocol):
    """Image bytes -> per-truck masks, most prominent truck first.

    ``config_key`` identifies everything that changes the masks (model versions, sizes,
    thresholds, or the mask files' content); it is part of the feature-cache key.
    """

    config_key: str

    def segment(self, image_bytes: bytes) -> list[TruckMasks]: ...


SegmenterFactory = Callable[[], Segmenter | None]
_FACTORIES: list[SegmenterFactory] = []

NO_SEGMENTER_MESSAGE = (
    "no segmenter is available to compute masks for the fitting images. Either pass "
    "--masks DIR with <stem>_bed.png and <stem>_load.png for every image (stem = the image file "
    "name without extension), or deploy the segmentator (loadcheck repository build / serve) so "
    "that a served segmenter is registered."
)


def register_segmenter_factory(factory: SegmenterFactory) -> None:
    """Register a factory returning a ready :class:`Segmenter` (or ``None`` when unavailable)."""
    _FACTORIES.append(factory)


def default_segmenter() -> Segmenter | None:
    """The first registered segmenter that is available, else ``None``."""
    for factory in reversed(_FACTORIES):
        seg = factory()
        if seg is not None:
            return seg
    return None


def read_mask(path: Path) -> np.ndarray:
    """bool ``[H, W]`` from a PNG (non-zero = inside); :class:`IntegratorError` if unreadable."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise IntegratorError(f"mask {path} cannot be read as an image")
    return mask > 0


class MasksDirSegmenter:
    """Masks given on disk: ``DIR/<stem>_bed.png`` and ``DIR/<stem>_load.png`` per image.

    Args:
        masks_dir: the folder.
        stems_by_sha256: image SHA-256 -> file stem, to find an image's masks from its bytes.

    ``config_key`` hashes every mask file of the folder, so edited masks invalidate the cache.
    """

    def __init__(self, masks_dir: Path | str, stems_by_sha256: Mapping[str, str]) -> None:
        self.masks_dir = Path(masks_dir)
        if not self.masks_dir.is_dir():
            raise IntegratorError(f"--masks {self.masks_dir}: no such directory")
        self.stems_by_sha256 = dict(stems_by_sha256)
        digest = hashlib.sha256()
        for path in sorted(self.masks_dir.glob("*_*.png")):
            if path.stem.endswith(("_bed", "_load")):
                digest.update(path.name.encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        self.config_key = f"masks:{digest.hexdigest()[:32]}"

    def paths_for(self, stem: str) -> tuple[Path, Path]:
        return self.masks_dir / f"{stem}_bed.png", self.masks_dir / f"{stem}_load.png"

    def missing(self) -> list[str]:
        """Stems whose bed or load mask file is missing."""
        return sorted(
            s
            for s in self.stems_by_sha256.values()
            if not all(p.is_file() for p in self.paths_for(s))
        )

    def segment(self, image_bytes: bytes) -> list[TruckMasks]:
        sha = sha256_hex(image_bytes)
        stem = self.stems_by_sha256.get(sha)
        if stem is None:
            raise IntegratorError(f"no file name known for image {sha[:12]}; cannot find its masks")
        bed_path, load_path = self.paths_for(stem)
        for path in (bed_path, load_path):
            if not path.is_file():
                raise IntegratorError(
                    f"missing mask {path}: --masks needs {stem}_bed.png and {stem}_load.png"
                )
        bed, load = read_mask(bed_path), read_mask(load_path)
        if bed.shape != load.shape:
            raise IntegratorError(
                f"masks of {stem}: bed is {bed.shape[1]}x{bed.shape[0]} but load is "
                f"{load.shape[1]}x{load.shape[0]}; expected the same size"
            )
        return split_trucks_from_masks(bed, load)
