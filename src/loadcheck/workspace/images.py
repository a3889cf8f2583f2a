"""Content-addressed image store: ``<home>/images/<sha[:2]>/<sha256>.<ext>``.

The content address is :func:`loadcheck.imageio.sha256_bytes`.
"""

from __future__ import annotations

from pathlib import Path

from loadcheck.atomic import atomic_write_bytes
from loadcheck.imageio import sha256_bytes

#: Old name of :func:`loadcheck.imageio.sha256_bytes`, kept only until
#: ``integrators/mask_sources.py`` imports that directly; new code uses ``sha256_bytes``.
sha256_hex = sha256_bytes


class ImageStore:
    """Stores each distinct image once, named by the SHA-256 of its bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, ext: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{ext.lower().lstrip('.')}"

    def put(self, data: bytes, ext: str) -> str:
        """Store ``data`` (idempotent, atomic); returns its SHA-256 hex digest."""
        sha = sha256_bytes(data)
        path = self.path(sha, ext)
        if not path.exists():
            atomic_write_bytes(path, data)
        return sha

    def get(self, sha256: str, ext: str) -> bytes:
        path = self.path(sha256, ext)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"image {sha256}.{ext} is missing from the image store {self.root}"
            ) from None

    def remove(self, sha256: str, ext: str) -> None:
        self.path(sha256, ext).unlink(missing_ok=True)
