"""Cameras page: list, add, edit and delete cameras (:mod:`loadcheck.workspace.cameras`).

A camera's region of interest is entered as points (``"x1,y1 x2,y2 x3,y3 ..."``, image pixels;
Streamlit has no polygon widget) and previewed as the polygon drawn on a sample photo the admin
uploads (or, without one, on a grey canvas covering the points). A new camera's legacy URL is
shown once, at creation. Every change publishes the token document (hashes and regions) to the
repository, as token rotations do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from loadcheck.console.widgets import Session, action
from loadcheck.features.roi import RoiError, format_roi, parse_roi
from loadcheck.workspace import Workspace
from loadcheck.workspace.cameras import CameraStore

#: The colour the region is drawn in on the preview (RGB).
ROI_COLOUR = (255, 64, 32)


def roi_preview(image_rgb: np.ndarray | None, points: Sequence[Sequence[float]]) -> np.ndarray:
    """``image_rgb`` (or a grey canvas covering the points) with the polygon drawn: a
    translucent fill, its outline and numbered corners."""
    import cv2

    pts = np.round(np.asarray(points, np.float64)).astype(np.int32)
    if image_rgb is None:
        w = max(int(pts[:, 0].max()) + 20, 64)
        h = max(int(pts[:, 1].max()) + 20, 64)
        image_rgb = np.full((h, w, 3), 110, np.uint8)
    canvas = np.ascontiguousarray(image_rgb[..., :3]).copy()
    fill = canvas.copy()
    cv2.fillPoly(fill, [pts.reshape(-1, 1, 2)], ROI_COLOUR)
    canvas = cv2.addWeighted(fill, 0.3, canvas, 0.7, 0.0)
    thick = max(2, round(max(canvas.shape[:2]) / 300))
    cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], True, ROI_COLOUR, thick)
    for i, (x, y) in enumerate(pts):
        cv2.circle(canvas, (int(x), int(y)), thick * 2, ROI_COLOUR, -1)
        cv2.putText(
            canvas, str(i + 1), (int(x) + 6, int(y) - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
            ROI_COLOUR, 2,
        )  # fmt: skip
    return canvas


def _sample_photo() -> np.ndarray | None:
    from loadcheck.imageio import decode_image

    upload = st.file_uploader(
        "Sample photo of the camera (for the preview only; not stored)",
        type=["jpg", "jpeg", "png", "bmp", "webp"],
        key="camera_photo",
    )
    if upload is None:
        return None
    try:
        return decode_image(upload.getvalue())
    except ValueError as exc:
        st.error(f"the sample photo cannot be read: {exc}")
        return None


def _roi_field(label: str, key: str, photo: np.ndarray | None, value: str = "") -> str:
    """A points field with its preview; returns the text (checked when saved)."""
    text = st.text_input(label, value=value, key=key, help='e.g. "10,20 300,20 300,400 10,400"')
    if text.strip():
        try:
            points = parse_roi(text)
        except RoiError as exc:
            st.warning(str(exc))
        else:
            st.image(roi_preview(photo, points), caption="region of interest", width=640)
    return text


def _publish(store: CameraStore, session: Session) -> None:
    from loadcheck.gateway.token_source import publish_tokens
    from loadcheck.serving.storage import StorageError

    try:
        publish_tokens(store.tokens.all(), session.config.repository)
    except (StorageError, OSError) as exc:
        st.error(f"publishing the token document to {session.config.repository} failed: {exc}")


def render(session: Session) -> None:
    st.header("Cameras")
    st.caption(
        "A camera is a named source of an integrator with its own legacy URL; with a region of "
        "interest only the trucks whose bed lies mostly inside it are judged."
    )
    store = CameraStore(Workspace(session.config.home))
    table = st.container()  # filled last: it shows the change an action below just made
    integrators = [str(i["name"]) for i in session.store().list_all()]
    photo = _sample_photo()
    add, edit = st.tabs(["Add", "Edit or delete"])
    with add:
        _add(session, store, integrators, photo)
    with edit:
        _edit(session, store, integrators, photo)
    with table:
        _table(store)


def _table(store: CameraStore) -> None:
    cameras = store.list()
    if cameras:
        rows = [
            {
                "camera": c.name,
                "integrator": c.integrator,
                "region of interest": format_roi(c.roi) if c.roi else "whole photo",
                "updated (UTC)": c.updated_at,
            }
            for c in cameras
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="cameras_table")
    else:
        st.info("no cameras yet")


def _add(
    session: Session, store: CameraStore, integrators: list[str], photo: np.ndarray | None
) -> None:
    if not integrators:
        st.info("create an integrator first")
        return
    name = st.text_input("Camera name", key="camera_add_name")
    integrator = st.selectbox("Integrator", integrators, key="camera_add_integrator")
    text = _roi_field("Region of interest (empty: the whole photo)", "camera_add_roi", photo)
    if st.button("Add camera", key="camera_add", type="primary"):
        with action(session, "add camera"):
            roi = parse_roi(text) if text.strip() else None
            camera, token = store.add(name.strip(), str(integrator), roi)
            _publish(store, session)
            st.success(f"camera {camera.name} added to {camera.integrator}")
            st.warning("Its legacy URL, shown only now (only its hash is kept):")
            st.code(token.path)


def _edit(
    session: Session, store: CameraStore, integrators: list[str], photo: np.ndarray | None
) -> None:
    cameras = store.list()
    if not cameras:
        st.info("no camera to edit")
        return
    name = st.selectbox("Camera", [c.name for c in cameras], key="camera_pick")
    camera = next(c for c in cameras if c.name == name)
    whole = st.checkbox("Whole photo (no region)", value=camera.roi is None, key="camera_whole")
    text = ""
    if not whole:
        current = format_roi(camera.roi) if camera.roi else ""
        text = _roi_field("Region of interest", f"camera_roi_{camera.name}", photo, current)
    index = integrators.index(camera.integrator) if camera.integrator in integrators else 0
    integrator = st.selectbox("Integrator", integrators, index=index, key="camera_integrator")
    if st.button("Save", key="camera_save", type="primary"):
        with action(session, "edit camera"):
            roi = None if whole else parse_roi(text)
            edited = store.edit(
                camera.name,
                roi=roi,
                clear_roi=whole,
                integrator=str(integrator) if integrator != camera.integrator else None,
            )
            _publish(store, session)
            st.success(f"camera {edited.name} saved")
    confirm = st.checkbox(f"Yes, delete {camera.name} and revoke its URL", key="camera_confirm")
    if st.button("Delete", key="camera_delete", disabled=not confirm):
        with action(session, "delete camera"):
            store.delete(camera.name)
            _publish(store, session)
            st.success(f"camera {camera.name} deleted; its URL is revoked")
