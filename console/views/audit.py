"""Audit log page: who did what and when (newest first), filtered by action and integrator."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from loadcheck.console.widgets import Session
from loadcheck.workspace import Workspace


def render(session: Session) -> None:
    st.header("Audit log")
    entries = Workspace(session.config.home).audit_entries()
    if not entries:
        st.info("the audit log is empty")
        return
    actions = sorted({e["action"] for e in entries})
    integrators = sorted({e["integrator"] for e in entries if e["integrator"]})
    left, right = st.columns(2)
    chosen = left.multiselect("Actions", actions, key="audit_actions")
    which = right.selectbox("Integrator", ["(all)", *integrators], key="audit_integrator")
    rows = [
        {
            "time (UTC)": e["at"],
            "who": e["actor"],
            "action": e["action"],
            "integrator": e["integrator"] or "",
            "detail": json.dumps(e["detail"], sort_keys=True),
        }
        for e in reversed(entries)
        if (not chosen or e["action"] in chosen) and (which == "(all)" or e["integrator"] == which)
    ]
    st.caption(f"{len(rows)} of {len(entries)} entries")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="audit_table")
