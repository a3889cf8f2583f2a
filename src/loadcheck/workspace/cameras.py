"""Cameras: named sources of an integrator, each with its own legacy token URL and an optional
region of interest (ROI).

A camera belongs to one integrator (its photos are judged by ``integrator_<name>``); its name
follows the rules of :data:`loadcheck.gateway.tokens.CAMERA_PATTERN` and is unique in the
workspace. Its ROI (:mod:`loadcheck.features.roi`) is a polygon in image pixels: only the trucks
whose bed lies mostly inside it are judged. Adding a camera issues its token
(:class:`~loadcheck.gateway.tokens.TokenStore`, binding ``(integrator, camera)``) in the same
transaction and returns it, the only time it is shown; deleting it revokes the token; moving it
to another integrator moves the token with it (the URL stays). The integrator's own URL keeps
working beside its cameras'.

Every change is written to the audit log. Gateways reading the workspace see a camera's ROI at
once; gateways reading the published token document see it after a publish (the ROI travels in
each camera's entry, :mod:`loadcheck.gateway.token_source`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loadcheck.features.roi import Polygon, RoiError, check_roi
from loadcheck.gateway.tokens import (
    CAMERA_PATTERN,
    IssuedToken,
    TokenStore,
    new_token,
    token_sha256,
)
from loadcheck.workspace.db import Workspace, now_iso


class CameraError(ValueError):
    """A camera operation cannot be done; the message names what is wrong and what to do."""


class CameraNotFoundError(CameraError):
    """No camera of that name."""


@dataclass(frozen=True)
class Camera:
    """One camera as stored (times ISO-8601 UTC; ``roi`` ``None``: the whole photo)."""

    name: str
    integrator: str
    roi: Polygon | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "integrator": self.integrator,
            "roi": None if self.roi is None else [list(p) for p in self.roi],
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def validate_camera_name(name: str) -> str:
    """``name`` when it is a valid camera name, else :class:`CameraError` naming the rule."""
    if not isinstance(name, str) or not CAMERA_PATTERN.match(name):
        raise CameraError(
            f"invalid camera name {name!r}: expected 1-63 characters of lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit (e.g. gate-2_north)"
        )
    return name


def roi_to_json(roi: Polygon | None) -> str | None:
    return None if roi is None else json.dumps([list(p) for p in roi])


def roi_from_json(text: str | None) -> Polygon | None:
    """The polygon stored as ``roi_json`` (``None``: no region)."""
    return None if text is None else check_roi(json.loads(text))


def _checked_roi(roi: Iterable[Sequence[float]] | None) -> Polygon | None:
    if roi is None:
        return None
    try:
        return check_roi(roi)
    except RoiError as exc:
        raise CameraError(str(exc)) from exc


def _camera(row: sqlite3.Row) -> Camera:
    return Camera(
        str(row["name"]),
        str(row["integrator"]),
        roi_from_json(row["roi_json"]),
        str(row["created_at"]),
        str(row["updated_at"]),
    )


class CameraStore:
    """The cameras of ``workspace`` (thread-safe: a connection per call)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.tokens = TokenStore(workspace)  # creates the token table if needed

    def get(self, name: str) -> Camera | None:
        with self.workspace.reader() as conn:
            row = conn.execute("SELECT * FROM cameras WHERE name = ?", (name,)).fetchone()
        return None if row is None else _camera(row)

    def require(self, name: str) -> Camera:
        camera = self.get(name)
        if camera is None:
            raise CameraNotFoundError(
                f"no camera {name!r}; `loadcheck camera list` shows the cameras"
            )
        return camera

    def list(self, integrator: str | None = None) -> list[Camera]:
        """Every camera (of ``integrator``), by name."""
        with self.workspace.reader() as conn:
            rows = conn.execute(
                "SELECT * FROM cameras WHERE (? IS NULL OR integrator = ?) ORDER BY name",
                (integrator, integrator),
            ).fetchall()
        return [_camera(r) for r in rows]

    def add(
        self, name: str, integrator: str, roi: Iterable[Sequence[float]] | None = None
    ) -> tuple[Camera, IssuedToken]:
        """Create a camera and issue its token (returned: the only time it is shown).

        Raises:
            CameraError: a bad name or ROI, an integrator the workspace does not have, or a
                camera of that name already.
        """
        validate_camera_name(name)
        polygon = _checked_roi(roi)
        at = now_iso()
        token = new_token()
        with self.workspace.transaction() as conn:
            _require_integrator(conn, integrator)
            if conn.execute("SELECT 1 FROM cameras WHERE name = ?", (name,)).fetchone():
                raise CameraError(
                    f"camera {name!r} exists already; edit it (`loadcheck camera edit`) or "
                    "choose another name"
                )
            conn.execute(
                "INSERT INTO cameras (name, integrator, roi_json, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, integrator, roi_to_json(polygon), at, at),
            )
            # a token made earlier for this source (`gateway rotate --camera`) is replaced
            conn.execute(
                "DELETE FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (integrator, name),
            )
            conn.execute(
                "INSERT INTO gateway_token_hashes "
                "(integrator, camera, token_sha256, created_at, rotated_at) VALUES (?, ?, ?, ?, ?)",
                (integrator, name, token_sha256(token), at, at),
            )
            Workspace.audit(conn, "camera_added", integrator, camera=name, roi=roi_to_json(polygon))
            Workspace.audit(conn, "gateway_token_issued", integrator, camera=name)
        camera = Camera(name, integrator, polygon, at, at)
        return camera, IssuedToken(integrator, name, token, at, at)

    def edit(
        self,
        name: str,
        *,
        roi: Iterable[Sequence[float]] | None = None,
        clear_roi: bool = False,
        integrator: str | None = None,
    ) -> Camera:
        """Change a camera's ROI (``roi``, or ``clear_roi`` for the whole photo) and/or its
        integrator (its token moves with it: the URL stays).

        Raises:
            CameraError: nothing to change, both ``roi`` and ``clear_roi``, a bad ROI, an
                unknown integrator; :class:`CameraNotFoundError`: no such camera.
        """
        if roi is not None and clear_roi:
            raise CameraError("give a new ROI or clear it, not both")
        if roi is None and not clear_roi and integrator is None:
            raise CameraError("nothing to change: give an ROI, clear it, or a new integrator")
        polygon = _checked_roi(roi)
        at = now_iso()
        with self.workspace.transaction() as conn:
            row = conn.execute("SELECT * FROM cameras WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise CameraNotFoundError(
                    f"no camera {name!r}; `loadcheck camera list` shows the cameras"
                )
            old = _camera(row)
            new_roi = None if clear_roi else (polygon if polygon is not None else old.roi)
            new_integrator = integrator or old.integrator
            if new_integrator != old.integrator:
                _require_integrator(conn, new_integrator)
                conn.execute(
                    "DELETE FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                    (new_integrator, name),
                )
                conn.execute(
                    "UPDATE gateway_token_hashes SET integrator = ? "
                    "WHERE integrator = ? AND camera = ?",
                    (new_integrator, old.integrator, name),
                )
            conn.execute(
                "UPDATE cameras SET integrator = ?, roi_json = ?, updated_at = ? WHERE name = ?",
                (new_integrator, roi_to_json(new_roi), at, name),
            )
            Workspace.audit(
                conn,
                "camera_edited",
                new_integrator,
                camera=name,
                roi=roi_to_json(new_roi),
                previous_integrator=old.integrator,
                previous_roi=roi_to_json(old.roi),
            )
        return Camera(name, new_integrator, new_roi, old.created_at, at)

    def delete(self, name: str) -> Camera:
        """Delete a camera and revoke its token; returns what was deleted.

        Raises:
            CameraNotFoundError: no such camera.
        """
        with self.workspace.transaction() as conn:
            row = conn.execute("SELECT * FROM cameras WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise CameraNotFoundError(
                    f"no camera {name!r}; `loadcheck camera list` shows the cameras"
                )
            camera = _camera(row)
            conn.execute("DELETE FROM cameras WHERE name = ?", (name,))
            revoked = conn.execute(
                "DELETE FROM gateway_token_hashes WHERE integrator = ? AND camera = ?",
                (camera.integrator, name),
            ).rowcount
            Workspace.audit(conn, "camera_deleted", camera.integrator, camera=name)
            if revoked:
                Workspace.audit(conn, "gateway_token_revoked", camera.integrator, camera=name)
        return camera


def _require_integrator(conn: sqlite3.Connection, integrator: str) -> None:
    if conn.execute("SELECT 1 FROM integrators WHERE name = ?", (integrator,)).fetchone() is None:
        raise CameraError(
            f"no integrator {integrator!r} in the workspace; create it first "
            "(`loadcheck integrator create`)"
        )
