"""Integrator metadata operations: create, list, show, update settings, delete, fitting data."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadcheck.atomic import file_lock, remove_dir_atomically
from loadcheck.integrators.errors import IngestError, IntegratorError, NotFoundError, validate_name
from loadcheck.integrators.ingest import (
    ArchiveImage,
    ArchiveReport,
    ZipLimits,
    read_image_archive,
)
from loadcheck.scoring.model_types import (
    DEFAULT_MODEL_TYPE,
    get_model_type,
    validate_params,
)
from loadcheck.scoring.review import ReviewSettings
from loadcheck.scoring.settings import (
    DEFAULT_THRESHOLD,
    FeatureSetting,
    check_settings_for_type,
    features_from_json,
    features_to_json,
    validate_threshold,
)
from loadcheck.tensor_names import scorer_model_name
from loadcheck.workspace.db import Workspace, now_iso
from loadcheck.workspace.images import ImageStore
from loadcheck.workspace.paths import fitted_models_folder, repository_location

LOG = logging.getLogger(__name__)
QUALIFIED, UNQUALIFIED = 1, 0
RESET_VALUE = "default"  # --param key=default drops a stored hyper-parameter
IMAGES_LOCK = "_images"  # guards the image store against add-data / garbage collection races


@dataclass(frozen=True)
class IntegratorConfig:
    """An integrator's settings as stored in the workspace."""

    name: str
    description: str
    model_type: str
    params: dict[str, int | float]
    features: dict[str, FeatureSetting]
    threshold: float
    served_version: int | None
    created_at: str
    updated_at: str
    review: ReviewSettings = field(default_factory=ReviewSettings)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> IntegratorConfig:
        return cls(
            row["name"],
            row["description"],
            row["model_type"],
            json.loads(row["params_json"]),
            features_from_json(json.loads(row["features_json"])),
            float(row["threshold"]),
            row["served_version"],
            row["created_at"],
            row["updated_at"],
            ReviewSettings.from_json(json.loads(row["review_json"] or "{}")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "model_type": self.model_type,
            "params": self.params,
            "features": features_to_json(self.features),
            "threshold": self.threshold,
            "review": self.review.to_json(),
            "served_version": self.served_version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class AddDataReport:
    added_qualified: int = 0
    added_unqualified: int = 0
    already_present: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added_qualified": self.added_qualified,
            "added_unqualified": self.added_unqualified,
            "already_present": self.already_present,
            "skipped": [{"entry": n, "reason": r} for n, r in self.skipped],
        }


def insert_image_row(conn: sqlite3.Connection, img: ArchiveImage, stamp: str) -> None:
    """Record a stored fitting image (its bytes already in the image store) in the workspace;
    an image already recorded is kept as it is."""
    conn.execute(
        "INSERT OR IGNORE INTO images (sha256, ext, size_bytes, width, height, stored_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (img.sha256, img.ext, len(img.data), img.width, img.height, stamp),
    )


class IntegratorStore:
    """Integrators in a workspace, with their artifacts in a model repository."""

    def __init__(
        self, home: Path | str | None = None, repository: Path | str | None = None
    ) -> None:
        self.ws = Workspace(home)
        #: The model repository as given (a folder or ``s3://``), which deploys publish to.
        self.repository_location = str(
            repository if repository is not None else repository_location()
        )
        #: Where fits write ``scorer_<name>/<version>/``: the repository's folder, or for an
        #: ``s3://`` repository the workspace (:func:`fitted_models_folder`).
        self.repository = fitted_models_folder(self.repository_location, self.ws.home)
        self.images = ImageStore(self.ws.images_dir)

    # ------------------------------------------------------------------ basics
    def model_dir(self, name: str) -> Path:
        return self.repository / scorer_model_name(name)

    def get(self, name: str, conn: sqlite3.Connection | None = None) -> IntegratorConfig:
        validate_name(name)
        if conn is None:
            with self.ws.reader() as own:
                row = own.execute("SELECT * FROM integrators WHERE name = ?", (name,)).fetchone()
        else:
            row = conn.execute("SELECT * FROM integrators WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no integrator named {name!r}; create it with: loadcheck integrator create {name}"
            )
        return IntegratorConfig.from_row(row)

    def create(
        self, name: str, description: str = "", model_type: str = DEFAULT_MODEL_TYPE
    ) -> IntegratorConfig:
        validate_name(name)
        get_model_type(model_type)
        stamp = now_iso()
        with self.ws.transaction() as conn:
            if conn.execute("SELECT 1 FROM integrators WHERE name = ?", (name,)).fetchone():
                raise IntegratorError(f"integrator {name!r} already exists")
            conn.execute(
                "INSERT INTO integrators (name, description, model_type, threshold, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, description, model_type, DEFAULT_THRESHOLD, stamp, stamp),
            )
            self.ws.audit(conn, "create", name, model_type=model_type)
        return self.get(name)

    def list_all(self) -> list[dict[str, Any]]:
        with self.ws.reader() as conn:
            rows = conn.execute(
                "SELECT i.name, i.model_type, i.description, i.served_version, "
                "(SELECT COUNT(*) FROM samples s WHERE s.integrator = i.name AND s.label = 1) q, "
                "(SELECT COUNT(*) FROM samples s WHERE s.integrator = i.name AND s.label = 0) u, "
                "(SELECT COUNT(*) FROM versions v WHERE v.integrator = i.name) nv "
                "FROM integrators i ORDER BY i.name"
            ).fetchall()
        return [
            {
                "name": r["name"],
                "model_type": r["model_type"],
                "description": r["description"],
                "served_version": r["served_version"],
                "qualified": r["q"],
                "unqualified": r["u"],
                "versions": r["nv"],
            }
            for r in rows
        ]

    def sample_counts(self, name: str) -> dict[str, int]:
        with self.ws.reader() as conn:
            rows = conn.execute(
                "SELECT label, COUNT(*) c FROM samples WHERE integrator = ? GROUP BY label", (name,)
            ).fetchall()
        counts = {int(r["label"]): int(r["c"]) for r in rows}
        return {"qualified": counts.get(1, 0), "unqualified": counts.get(0, 0)}

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, Any] | None = None,
        features: Mapping[str, FeatureSetting] | None = None,
        threshold: float | None = None,
        review: Mapping[str, Any] | None = None,
    ) -> IntegratorConfig:
        """Validate and store new settings (``params``/``features``/``review`` are merged into
        the old). The threshold and the review settings reach the served scorer with the next
        fit (they are written into each fitted version's ``scorer.json``)."""
        with self.ws.transaction() as conn:
            cfg = self.get(name, conn)
            new_type = model_type or cfg.model_type
            merged = {**cfg.params, **(params or {})}
            new_params = validate_params(
                new_type, {k: v for k, v in merged.items() if v != RESET_VALUE}
            )
            new_features = {**cfg.features, **(features or {})}
            check_settings_for_type(new_type, new_features)
            new_threshold = cfg.threshold if threshold is None else validate_threshold(threshold)
            new_review = ReviewSettings.from_json({**cfg.review.to_json(), **(review or {})})
            conn.execute(
                "UPDATE integrators SET description = ?, model_type = ?, params_json = ?, "
                "features_json = ?, threshold = ?, review_json = ?, updated_at = ? "
                "WHERE name = ?",
                (
                    cfg.description if description is None else description,
                    new_type,
                    json.dumps(new_params),
                    json.dumps(features_to_json(new_features)),
                    new_threshold,
                    json.dumps(new_review.changed()),
                    now_iso(),
                    name,
                ),
            )
            self.ws.audit(
                conn,
                "set",
                name,
                model_type=new_type,
                params=dict(params or {}),
                features=features_to_json(dict(features or {})),
                threshold=threshold,
                review=dict(review or {}),
            )
        return self.get(name)

    def delete(self, name: str) -> None:
        """Remove the integrator, its samples, versions and its model-repository folder."""
        with file_lock(self.ws.lock_path(name)), self.ws.transaction() as conn:
            self.get(name, conn)
            conn.execute("DELETE FROM samples WHERE integrator = ?", (name,))
            conn.execute("DELETE FROM versions WHERE integrator = ?", (name,))
            conn.execute("DELETE FROM integrators WHERE name = ?", (name,))
            self.ws.audit(conn, "delete", name)
            remove_dir_atomically(self.model_dir(name))
        self._collect_garbage()

    # ------------------------------------------------------------------ fitting data
    def add_data(
        self,
        name: str,
        qualified_zip: Path | str,
        unqualified_zip: Path | str,
        limits: ZipLimits | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> AddDataReport:
        """Validate both archives completely, then store images and samples in one transaction.

        ``progress(done, total)`` is called per archive entry read (both archives in turn).
        """
        self.get(name)
        reports: dict[int, ArchiveReport] = {
            QUALIFIED: read_image_archive(
                qualified_zip, f"qualified zip {qualified_zip}", limits, progress
            ),
            UNQUALIFIED: read_image_archive(
                unqualified_zip, f"unqualified zip {unqualified_zip}", limits, progress
            ),
        }
        by_sha = {img.sha256: img.name for img in reports[UNQUALIFIED].images}
        both = [
            (img.name, by_sha[img.sha256])
            for img in reports[QUALIFIED].images
            if img.sha256 in by_sha
        ]
        if both:
            pairs = ", ".join(f"{q} = {u}" for q, u in both[:10])
            raise IngestError(
                f"{len(both)} images are in both the qualified and the unqualified zip "
                f"(qualified = unqualified: {pairs}); each image must have one label"
            )
        out = AddDataReport(skipped=[*reports[QUALIFIED].skipped, *reports[UNQUALIFIED].skipped])
        with file_lock(self.ws.lock_path(IMAGES_LOCK)):
            for report in reports.values():
                for img in report.images:
                    self.images.put(img.data, img.ext)
            stamp = now_iso()
            with self.ws.transaction() as conn:
                self.get(name, conn)
                existing = {
                    r["sha256"]: (int(r["label"]), r["original_name"])
                    for r in conn.execute(
                        "SELECT sha256, label, original_name FROM samples WHERE integrator = ?",
                        (name,),
                    )
                }
                conflicts = []
                for label, report in reports.items():
                    for img in report.images:
                        old_label, old_name = existing.get(img.sha256, (label, ""))
                        if old_label != label:
                            kind = "qualified" if old_label == QUALIFIED else "unqualified"
                            conflicts.append(f"{img.name} (already stored as {kind} {old_name})")
                if conflicts:
                    raise IngestError(
                        "images already stored with the other label: "
                        + ", ".join(conflicts[:10])
                        + "; clear the data first (loadcheck integrator clear-data) to relabel"
                    )
                for label, report in reports.items():
                    for img in report.images:
                        insert_image_row(conn, img, stamp)
                        if img.sha256 in existing:
                            out.already_present += 1
                            continue
                        conn.execute(
                            "INSERT INTO samples (integrator, sha256, label, original_name, "
                            "added_at) VALUES (?, ?, ?, ?, ?)",
                            (name, img.sha256, label, img.name, stamp),
                        )
                        if label == QUALIFIED:
                            out.added_qualified += 1
                        else:
                            out.added_unqualified += 1
                self.ws.audit(
                    conn,
                    "add-data",
                    name,
                    **{k: v for k, v in out.to_dict().items() if k != "skipped"},
                )
        for entry, reason in out.skipped:
            LOG.warning("skipped %s: %s", entry, reason)
        return out

    def clear_data(self, name: str) -> int:
        """Remove all fitting samples of ``name``; returns how many were removed."""
        with self.ws.transaction() as conn:
            self.get(name, conn)
            removed = conn.execute("DELETE FROM samples WHERE integrator = ?", (name,)).rowcount
            self.ws.audit(conn, "clear-data", name, removed=removed)
        self._collect_garbage()
        return int(removed)

    def samples(self, name: str) -> list[sqlite3.Row]:
        """Fitting samples with their image's extension and size; ``correction_record_id`` is
        the inspection record whose correction added the sample (``None``: from the zips)."""
        with self.ws.reader() as conn:
            return conn.execute(
                "SELECT s.sha256, s.label, s.original_name, i.ext, i.width, i.height, "
                "c.record_id AS correction_record_id "
                "FROM samples s JOIN images i ON i.sha256 = s.sha256 "
                "LEFT JOIN sample_corrections c ON c.integrator = s.integrator "
                "AND c.sha256 = s.sha256 WHERE s.integrator = ? "
                "ORDER BY s.original_name, s.sha256",
                (name,),
            ).fetchall()

    def _collect_garbage(self) -> None:
        """Delete stored images no integrator refers to any more."""
        with file_lock(self.ws.lock_path(IMAGES_LOCK)), self.ws.transaction() as conn:
            rows = conn.execute(
                "SELECT sha256, ext FROM images WHERE sha256 NOT IN (SELECT sha256 FROM samples)"
            ).fetchall()
            conn.executemany("DELETE FROM images WHERE sha256 = ?", [(r[0],) for r in rows])
            for row in rows:
                self.images.remove(row["sha256"], row["ext"])
