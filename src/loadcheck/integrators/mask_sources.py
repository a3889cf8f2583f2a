"""Where fitting and prediction get per-truck masks from: a :class:`MaskSource`.

Two kinds exist: :class:`MaskFolder` reads given masks (``<stem>_bed.png`` /
``<stem>_load.png``, union masks, non-zero = inside), and
:class:`loadcheck.integrators.served.ServedSegmentator` asks the served ``segmentator`` ensemble
of a running Triton. Callers pick one explicitly (``--masks DIR`` or ``--triton URL``); there is
no default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from loadcheck.features.trucks import split_trucks_from_masks
from loadcheck.imageio import ImageDecodeError, read_mask, sha256_bytes, sha256_file
from loadcheck.integrators.errors import IntegratorError
from loadcheck.payloads import TruckMasks

#: What to do when a fit or a prediction is given no mask source.
NO_MASK_SOURCE_MESSAGE = (
    "no masks for the images: pass --masks DIR with <stem>_bed.png and <stem>_load.png for every "
    "image (stem = the image file name without extension), or --triton HOST:PORT (with "
    "--repository) to compute them with the served segmentator"
)


@runtime_checkable
class MaskSource(Protocol):
    """Image bytes -> per-truck masks, most prominent truck first.

    ``config_key`` identifies everything that changes the masks (model versions, sizes,
    thresholds, or the mask files' content); it is part of the feature-cache key.
    """

    config_key: str

    def segment(self, image_bytes: bytes) -> list[TruckMasks]: ...


class MaskFolder:
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
        listing = b"".join(
            path.name.encode() + bytes.fromhex(sha256_file(path))
            for path in sorted(self.masks_dir.glob("*_*.png"))
            if path.stem.endswith(("_bed", "_load"))
        )
        self.config_key = f"masks:{sha256_bytes(listing)[:32]}"

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
        sha = sha256_bytes(image_bytes)
        stem = self.stems_by_sha256.get(sha)
        if stem is None:
            raise IntegratorError(f"no file name known for image {sha[:12]}; cannot find its masks")
        bed_path, load_path = self.paths_for(stem)
        for path in (bed_path, load_path):
            if not path.is_file():
                raise IntegratorError(
                    f"missing mask {path}: --masks needs {stem}_bed.png and {stem}_load.png"
                )
        try:
            bed, load = read_mask(bed_path), read_mask(load_path)
        except ImageDecodeError as exc:
            raise IntegratorError(str(exc)) from exc
        if bed.shape != load.shape:
            raise IntegratorError(
                f"masks of {stem}: bed is {bed.shape[1]}x{bed.shape[0]} but load is "
                f"{load.shape[1]}x{load.shape[0]}; expected the same size"
            )
        return split_trucks_from_masks(bed, load)
