"""Drift page: do the photos of each camera still look like the fitting data?

Per integrator, and per camera or all cameras together, the newest inspection records' features
(the last N, optionally since a time) against the fitting reference of the scorer version the
workspace serves (:mod:`loadcheck.monitoring.served_drift`): a plain-language warning and the
PSI and out-of-range share per feature. The thresholds are shown on the page."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from loadcheck.console.widgets import Session
from loadcheck.monitoring.drift import PSI_LARGE
from loadcheck.monitoring.served_drift import (
    DEFAULT_LAST,
    MAX_LAST,
    MIN_RECORDS,
    OUT_OF_RANGE_WARN,
    DriftAssessment,
    DriftStatus,
    assess_drift,
    recorded_cameras,
)
from loadcheck.records.store import RecordStore

ALL = "(all cameras)"
THRESHOLDS = (
    f"A feature has **shifted a lot** when its population stability index (PSI) is above "
    f"{PSI_LARGE} plus twice what samples of this size reach by chance, "
    "2 x (bins - 1) x (1/records + 1/fitting samples) (the threshold shown). It is **out of "
    f"range** when more than {OUT_OF_RANGE_WARN:.0%} of the records lie outside the fitting "
    f"data's lowest..highest value. Fewer than {MIN_RECORDS} records with features give no "
    "figure. Only loaded trucks have features. See docs/observability.md."
)


def _show(result: DriftAssessment) -> None:
    text = result.message()
    if result.status is DriftStatus.DRIFTING:
        st.warning(text, icon="⚠️")
    elif result.status is DriftStatus.STABLE:
        st.success(text)
    else:
        st.info(text)
    if result.other_versions:
        st.caption(
            f"{result.other_versions} of these records were answered by another scorer version "
            f"than the served version {result.version}."
        )
    if not result.findings:
        return
    st.caption(
        f"{result.n_used} records with features of {result.n_records} read; PSI threshold "
        f"{result.psi_threshold:.2f}"
    )
    frame = pd.DataFrame(
        [
            {
                "feature": f.name,
                "PSI": round(f.psi, 3),
                "out of range": round(f.out_of_range_share, 3),
                "shifted a lot": f.shifted,
                "out of range (> 20 %)": f.out_of_range,
            }
            for f in result.findings
        ]
    )
    st.dataframe(frame, hide_index=True, key=f"drift_table_{result.camera or ''}")


def render(session: Session) -> None:
    st.header("Drift")
    st.caption(THRESHOLDS)
    store = session.store()
    integrators = [str(row["name"]) for row in store.list_all()]
    if not integrators:
        st.info("no integrators yet")
        return
    try:
        records = RecordStore(home=session.config.home)
    except Exception as exc:  # a bad URL, a database down or newer than this code
        st.error(f"the records database cannot be opened: {exc}")
        return
    try:
        a, b, c = st.columns(3)
        integrator = str(a.selectbox("Integrator", integrators, key="drift_integrator"))
        cameras = recorded_cameras(records, integrator)
        camera = b.selectbox("Camera", [ALL, *cameras], key="drift_camera")
        last = int(
            c.number_input("Newest records", 1, MAX_LAST, DEFAULT_LAST, step=50, key="drift_last")
        )
        since = None
        if st.checkbox("Only records since a time", key="drift_use_since"):
            d, e = st.columns(2)
            day = d.date_input("Since (UTC day)", key="drift_since_day")
            at = e.time_input("at", time(0, 0), key="drift_since_time")
            since = datetime.combine(day, at, UTC)
        chosen = None if camera == ALL else str(camera)
        _show(assess_drift(store, records, integrator, camera=chosen, last=last, since=since))
        if chosen is None and len(cameras) > 1:
            st.subheader("Per camera")
            for name in cameras:
                st.markdown(f"**{name}**")
                _show(assess_drift(store, records, integrator, camera=name, last=last, since=since))
    finally:
        records.close()
