"""The model repository as storage: one small interface for every writer, a local folder or S3.

Every writer of the repository (``repository build``, ``deploy`` / ``undeploy``, the console's
deploy, roll back and segmentator pages) goes through :class:`ModelRepository`:

* :meth:`~ModelRepository.read_bytes`, :meth:`~ModelRepository.list`: what the repository holds;
* :meth:`~ModelRepository.write_bytes`: one small file (the deploy state), replaced as a whole;
* :meth:`~ModelRepository.publish`: a staged folder (from :meth:`~ModelRepository.staging`)
  merged into the repository in the order a polling Triton replica needs: every version's
  files first, then each model's ``config.pbtxt``, then the top-level files (the manifest and
  the deploy state) last, so a replica that polls mid-publish never loads half a version;
* :meth:`~ModelRepository.delete_model`: a model's ``config.pbtxt`` first, then its files.

:func:`open_repository` picks the implementation from the location: a folder
(:class:`LocalRepository`: temp folder in the repository + rename, as before) or ``s3://``
(:class:`~loadcheck.serving.storage_s3.S3Repository`, through boto3).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from loadcheck.atomic import atomic_write_bytes, fsync_dir, remove_dir_atomically

LOGGER = logging.getLogger(__name__)
CONFIG_FILE = "config.pbtxt"
S3_SCHEME = "s3://"


class StorageError(ValueError):
    """The repository's location or storage cannot be used; the message says why and what is
    expected."""


class ModelRepository(ABC):
    """A Triton model repository: files addressed by ``/``-separated keys relative to its root
    (``segmentator/config.pbtxt``, ``scorer_a/3/model.ubj``, ``loadcheck_repository.json``)."""

    #: Where it is, as the user wrote it (a folder path or ``s3://bucket/prefix``).
    url: str

    @property
    def local_folder(self) -> Path | None:
        """The folder of a local repository, ``None`` for object storage."""
        return None

    @abstractmethod
    def read_bytes(self, key: str) -> bytes | None:
        """The file ``key``, or ``None`` when it does not exist."""

    def read_text(self, key: str) -> str | None:
        data = self.read_bytes(key)
        return None if data is None else data.decode("utf-8")

    def exists(self, key: str) -> bool:
        return self.read_bytes(key) is not None

    @abstractmethod
    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys of every file under ``prefix`` (a folder, ``""`` for all), sorted."""

    def models(self) -> list[str]:
        """Top-level folders that hold a ``config.pbtxt`` (Triton's models), sorted."""
        return sorted(
            {
                k.split("/", 1)[0]
                for k in self.list_keys()
                if k.count("/") == 1 and k.endswith(CONFIG_FILE)
            }
        )

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace the file ``key`` as a whole (a reader sees the old or the new one)."""

    @abstractmethod
    def publish(self, staged: Path) -> list[str]:
        """Merge the local folder ``staged`` into the repository (files it does not name are
        kept, a version folder it holds replaces the repository's one): version files first,
        then each model's ``config.pbtxt``, then top-level files. Returns the keys written, in
        the order they became visible."""

    @abstractmethod
    def delete_model(self, name: str) -> None:
        """Remove model ``name`` (its ``config.pbtxt`` first); nothing when it is absent."""

    @abstractmethod
    def delete_version(self, name: str, version: int) -> None:
        """Remove version folder ``<name>/<version>/``; nothing when it is absent."""

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A temporary local folder to stage files for :meth:`publish`, removed afterwards."""
        folder = Path(tempfile.mkdtemp(prefix="loadcheck-publish-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def check_key(key: str) -> str:
    """``key`` as a relative, normalised ``/`` path; :class:`StorageError` for ``..`` or ``/x``."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts:
        raise StorageError(f"repository key {key!r}: expected a relative path without '..'")
    return str(path)


def staged_files(staged: Path) -> tuple[list[str], list[str], list[str]]:
    """The keys of ``staged`` in publish order: (version files, model configs, top-level files).

    An empty version folder (an ensemble's ``1/``) is given a ``.keep`` file, because object
    storage has no empty folders and Triton needs the version folder.
    """
    for folder in sorted(p for p in staged.glob("*/*") if p.is_dir()):
        if not any(folder.iterdir()):
            (folder / ".keep").write_bytes(b"")
    keys = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    top = [k for k in keys if "/" not in k]
    configs = [k for k in keys if k.count("/") == 1 and k.endswith("/" + CONFIG_FILE)]
    body = [k for k in keys if k not in top and k not in configs]
    return body, configs, top


class LocalRepository(ModelRepository):
    """A repository in a local folder (what ``tritonserver --model-repository DIR`` reads)."""

    def __init__(self, folder: Path | str) -> None:
        self.root = Path(folder)
        self.url = str(folder)

    @property
    def local_folder(self) -> Path:
        return self.root

    def read_bytes(self, key: str) -> bytes | None:
        path = self.root / check_key(key)
        return path.read_bytes() if path.is_file() else None

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self.root / check_key(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
        )

    def write_bytes(self, key: str, data: bytes) -> None:
        atomic_write_bytes(self.root / check_key(key), data)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """Inside the repository (hidden, so Triton skips it), so that publishing is a rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".staging.", dir=self.root))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def publish(self, staged: Path) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        body, configs, top = staged_files(staged)
        written: list[str] = []
        for model in sorted(p for p in staged.iterdir() if p.is_dir()):
            target = self.root / model.name
            if not target.exists():
                _swap_in(model, target)
                written.extend(k for k in body + configs if k.startswith(model.name + "/"))
                continue
            for entry in sorted(model.iterdir()):
                if entry.name == CONFIG_FILE:
                    continue
                if entry.is_dir():
                    _swap_in(entry, target / entry.name)
                else:
                    atomic_write_bytes(target / entry.name, entry.read_bytes())
                written.extend(k for k in body if k.startswith(f"{model.name}/{entry.name}"))
            config = model / CONFIG_FILE
            if config.is_file():
                atomic_write_bytes(target / CONFIG_FILE, config.read_bytes())
                written.append(f"{model.name}/{CONFIG_FILE}")
        for key in top:
            atomic_write_bytes(self.root / key, (staged / key).read_bytes())
            written.append(key)
        return written

    def delete_model(self, name: str) -> None:
        remove_dir_atomically(self.root / check_key(name))

    def delete_version(self, name: str, version: int) -> None:
        remove_dir_atomically(self.root / check_key(f"{name}/{version}"))


def _swap_in(source: Path, target: Path) -> None:
    """Rename folder ``source`` to ``target``, replacing it (the old one moved aside first)."""
    for path in [source, *source.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp is owner-only; Triton may not be
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    if target.exists():
        target.replace(old)
    source.replace(target)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def is_object_store(location: str | Path) -> bool:
    return str(location).startswith(S3_SCHEME)


def open_repository(location: str | Path | ModelRepository) -> ModelRepository:
    """The repository at ``location``: a folder, or ``s3://bucket/prefix`` (also Triton's
    ``s3://host:port/bucket/prefix`` and ``s3://http[s]://host:port/bucket/prefix``).

    Raises:
        StorageError: another URL scheme, a malformed ``s3://`` URL, no credentials, no bucket.
    """
    if isinstance(location, ModelRepository):
        return location
    text = str(location)
    if is_object_store(text):
        from loadcheck.serving.storage_s3 import S3Repository

        return S3Repository.from_url(text)
    if "://" in text:
        raise StorageError(
            f"repository {text!r}: expected a folder or s3://bucket/prefix "
            "(other URL schemes are not supported)"
        )
    return LocalRepository(text)
