"""The workspace: SQLite metadata, content-addressed images, feature cache, atomic writes."""

from loadcheck.atomic import atomic_write_bytes, atomic_write_dir, file_lock
from loadcheck.workspace.db import Workspace
from loadcheck.workspace.images import ImageStore
from loadcheck.workspace.paths import default_home, default_repository

__all__ = [
    "ImageStore",
    "Workspace",
    "atomic_write_bytes",
    "atomic_write_dir",
    "default_home",
    "default_repository",
    "file_lock",
]
