"""Segment images page: a zip through the served segmentator, an overlay gallery, JSON download."""

from __future__ import annotations

import streamlit as st

from loadcheck.console.operations import served_segmentator
from loadcheck.console.segmentation import (
    detections_json,
    draw_segmentation,
    read_upload,
    segment_upload,
)
from loadcheck.console.widgets import Session, action, gallery, progress_bar, uploaded_path

RESULTS = "segment_results"


def render(session: Session) -> None:
    cfg = session.config
    st.header("Segment images")
    st.caption(
        f"Upload a zip with images at its root (at most {cfg.max_images}); the segmentator on "
        f"{cfg.triton_url} finds beds and loads."
    )
    upload = st.file_uploader("Images (zip)", type=["zip"], key="segment_zip")
    if st.button("Segment", key="segment_run", type="primary"):
        st.session_state.pop(RESULTS, None)
        if upload is None:
            st.error("choose a zip first")
            return
        with action(session, "segmenting"), uploaded_path(upload) as path:
            images = read_upload(path, f"zip {upload.name}", cfg.max_images)
            with served_segmentator(cfg) as segmentator:
                st.session_state[RESULTS] = segment_upload(
                    segmentator, images, progress_bar("segmenting")
                )
    results = st.session_state.get(RESULTS)
    if not results:
        return
    failed = [r for r in results if r.error]
    st.success(f"{len(results) - len(failed)} images segmented, {len(failed)} failed")
    for r in failed:
        st.warning(f"{r.name}: {r.error}")
    st.download_button(
        "Download detections (JSON)",
        detections_json(results),
        file_name="detections.json",
        mime="application/json",
        key="segment_download",
    )
    ok = [r for r in results if not r.error]
    gallery(
        "segment_gallery",
        ok,
        draw_segmentation,
        lambda r: f"{r.name}: {len(r.detections) if r.detections is not None else 0} detections",
    )
