"""Atomic file writes (temp file in the same folder, fsync, rename) and inter-process locks.

Every file loadcheck writes for another process to read (model repository, workspace, model
cards, reports) goes through here, so a reader sees either the old or the new file, never half.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file.

    ``mode`` is applied before the rename (``mkstemp`` creates files readable by the owner only,
    and Triton in a container may run as another user).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_dir(final: Path, fill: Callable[[Path], None]) -> None:
    """Create directory ``final`` atomically: ``fill(tmp)`` writes into a temp dir, then rename.

    Raises ``FileExistsError`` when ``final`` exists (it is never overwritten); the temp dir is
    removed on any failure.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        fill(tmp)
        for item in tmp.iterdir():
            if item.is_file():
                fsync_file(item)
        fsync_dir(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; Triton may run as another user
        if final.exists():
            raise FileExistsError(f"{final} already exists")
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)


def remove_dir_atomically(path: Path) -> None:
    """Rename ``path`` out of the way first (so it vanishes at once), then delete it."""
    if not path.exists():
        return
    trash = path.parent / f".{path.name}.deleted.{os.getpid()}"
    path.rename(trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed), held for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
