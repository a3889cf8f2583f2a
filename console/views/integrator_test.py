"""Integrators › Test: the served version on a zip of images (optionally labelled): a result
table, a confusion matrix and an overlay gallery with the mistakes first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from loadcheck.client.overlay import render_overlay
from loadcheck.console.analysis import (
    EvaluatedImage,
    evaluate_images,
    parse_labels_csv,
    verdict_confusion,
)
from loadcheck.console.operations import evaluation_mask_source
from loadcheck.console.segmentation import read_upload
from loadcheck.console.widgets import (
    Session,
    action,
    confusion_chart,
    gallery,
    progress_bar,
    uploaded_path,
)
from loadcheck.integrators.fitting import served_model
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import VERDICTS

RESULTS = "test_results"
MAX_TEST_IMAGES = 1000


def _run(session: Session, store: IntegratorStore, name: str) -> None:
    upload = st.file_uploader("Test images (zip, images at the root)", type=["zip"], key="test_zip")
    labels_file = st.file_uploader(
        "Labels (optional CSV: image,label with Qualified / Unqualified / No Mine Detected)",
        type=["csv"],
        key="test_labels",
    )
    masks = st.text_input(
        "Masks folder on the server (optional; empty = the served segmentator)", key="test_masks"
    )
    if st.button("Run test", key="test_run", type="primary"):
        st.session_state.pop(RESULTS, None)
        if upload is None:
            st.error("choose a zip first")
            return
        with action(session, "testing"), uploaded_path(upload) as path:
            labels = None
            if labels_file is not None:
                labels = parse_labels_csv(labels_file.getvalue().decode("utf-8-sig"))
            images = read_upload(path, f"zip {upload.name}", MAX_TEST_IMAGES)
            pairs = [(i.name, i.data) for i in images]
            with evaluation_mask_source(pairs, masks, session.config) as mask_source:
                rows = evaluate_images(
                    served_model(store, name), mask_source, images, labels, progress_bar("testing")
                )
            st.session_state[RESULTS] = (name, rows)


def _overlay(row: EvaluatedImage):  # type: ignore[no-untyped-def]
    assert row.result is not None
    return render_overlay(row.data, row.result)


def _caption(row: EvaluatedImage) -> str:
    verdict = row.result.score_result.value if row.result else "error"
    tag = "" if row.correct is None else (" ✓" if row.correct else f" ✗ (label {row.label})")
    return f"{row.name}: {verdict}{tag}"


def render(session: Session, store: IntegratorStore, name: str) -> None:
    if store.get(name).served_version is None:
        st.info("fit a version first")
        return
    _run(session, store, name)
    saved = st.session_state.get(RESULTS)
    if not saved or saved[0] != name:
        return
    rows: list[EvaluatedImage] = saved[1]
    labelled = [r for r in rows if r.correct is not None]
    if labelled:
        right = sum(bool(r.correct) for r in labelled)
        st.metric("Test accuracy", f"{right / len(labelled):.3f}", f"{right}/{len(labelled)}")
        st.altair_chart(confusion_chart(verdict_confusion(rows), VERDICTS), key="test_confusion")
    st.dataframe(pd.DataFrame([r.to_dict() for r in rows]), hide_index=True, key="test_table")
    st.markdown("**Overlays** (mistakes first)")
    gallery("test_gallery", [r for r in rows if r.result is not None], _overlay, _caption)
