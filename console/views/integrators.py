"""Integrators page: create / select, then one section at a time (settings, data, fit and
metrics, test, versions and deploy)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from loadcheck.console.views import integrator_deploy, integrator_fit, integrator_test
from loadcheck.console.widgets import Session, action, uploaded_path
from loadcheck.features.spec import FEATURE_SPEC
from loadcheck.integrators.store import IntegratorStore
from loadcheck.scoring.model_types import MODEL_TYPES, PARAMS, get_model_type
from loadcheck.scoring.settings import MAX_EMPHASIS, FeatureSetting

SECTIONS = ("Settings", "Fitting data", "Fit & metrics", "Test", "Versions & deploy")


def _create(session: Session, store: IntegratorStore) -> None:
    with st.expander("Create an integrator", expanded=not store.list_all()):
        name = st.text_input("Name (lowercase letters, digits, _ or -)", key="new_name")
        description = st.text_input("Description", key="new_description")
        types = list(MODEL_TYPES)
        model_type = st.selectbox(
            "Score model type",
            types,
            key="new_type",
            format_func=lambda t: f"{t}: {MODEL_TYPES[t].description}",
        )
        if st.button("Create", key="create", type="primary"):
            with action(session, "creating the integrator"):
                store.create(name.strip(), description, model_type)
                st.session_state["integrator"] = name.strip()
                st.success(f"created {name.strip()}")


def _settings(session: Session, store: IntegratorStore, name: str) -> None:
    cfg = store.get(name)
    description = st.text_area("Description", cfg.description, key=f"desc_{name}")
    types = list(MODEL_TYPES)
    model_type = st.selectbox(
        "Score model type",
        types,
        types.index(cfg.model_type),
        key=f"type_{name}",
        format_func=lambda t: f"{t}: {MODEL_TYPES[t].description}",
    )
    mtype = get_model_type(model_type)
    st.markdown("**Hyper-parameters**")
    params: dict[str, float | int] = {}
    columns = st.columns(3)
    for i, key in enumerate(mtype.accepted):
        spec = PARAMS[key]
        value = cfg.params.get(key, mtype.defaults[key])
        with columns[i % 3]:
            if spec.kind is int:
                got: float | int = st.number_input(
                    key,
                    int(spec.low),
                    int(spec.high),
                    int(value),
                    help=spec.help,
                    key=f"p_{name}_{model_type}_{key}",
                )
            else:
                got = st.number_input(
                    key,
                    float(spec.low),
                    float(spec.high),
                    float(value),
                    help=spec.help,
                    format="%.4g",
                    key=f"p_{name}_{model_type}_{key}",
                )
        if got != value:
            params[key] = got
    threshold = st.slider(
        "Decision threshold (Qualified when probability >= threshold)",
        0.0,
        1.0,
        float(cfg.threshold),
        0.01,
        key=f"thr_{name}",
    )
    features: dict[str, FeatureSetting] = {}
    with st.expander("Feature settings (enabled, emphasis weight, monotone direction)"):
        for fname in FEATURE_SPEC.names:
            cur = cfg.features.get(fname, FeatureSetting())
            a, b, c = st.columns([2, 2, 2])
            enabled = a.checkbox(fname, cur.enabled, key=f"fe_{name}_{fname}")
            weight = b.number_input(
                "emphasis",
                -MAX_EMPHASIS,
                MAX_EMPHASIS,
                cur.weight,
                0.5,
                key=f"fw_{name}_{fname}",
                label_visibility="collapsed",
            )
            monotone = c.selectbox(
                "monotone",
                [-1, 0, 1],
                [-1, 0, 1].index(cur.monotone),
                key=f"fm_{name}_{fname}",
                label_visibility="collapsed",
                format_func=lambda m: {-1: "decreasing", 0: "free", 1: "increasing"}[m],
            )
            new = FeatureSetting(bool(enabled), float(weight), int(monotone))
            if new != cur:
                features[fname] = new
    if st.button("Save settings", key="save_settings", type="primary"):
        with action(session, "saving the settings"):
            store.update(
                name,
                description=description if description != cfg.description else None,
                model_type=model_type if model_type != cfg.model_type else None,
                params=params,
                features=features,
                threshold=threshold if threshold != cfg.threshold else None,
            )
            st.success("settings saved; fit a new version to use them")


def _data(session: Session, store: IntegratorStore, name: str) -> None:
    counts = store.sample_counts(name)
    a, b, c = st.columns(3)
    a.metric("Qualified", counts["qualified"])
    b.metric("Unqualified", counts["unqualified"])
    c.metric("Total", counts["qualified"] + counts["unqualified"])
    st.markdown("**Add fitting data** (the legacy pair of zips, images at the archive root)")
    q = st.file_uploader("Qualified images (zip)", type=["zip"], key="add_qualified")
    u = st.file_uploader("Unqualified images (zip)", type=["zip"], key="add_unqualified")
    if st.button("Add data", key="add_data", type="primary"):
        if q is None or u is None:
            st.error("choose both zips first (qualified and unqualified)")
            return
        with action(session, "adding data"), uploaded_path(q) as qp, uploaded_path(u) as up:
            report = store.add_data(name, qp, up)
            st.success(
                f"added {report.added_qualified} qualified and {report.added_unqualified} "
                f"unqualified images ({report.already_present} already present)"
            )
            if report.skipped:
                st.warning(f"{len(report.skipped)} entries skipped:")
                st.dataframe(
                    pd.DataFrame(report.skipped, columns=["entry", "reason"]),
                    hide_index=True,
                    key="skipped_table",
                )
    st.markdown("**Clear fitting data**")
    sure = st.checkbox(
        f"Yes, remove all {sum(counts.values())} fitting images of {name}", key="clear_confirm"
    )
    if st.button("Clear data", key="clear_data"):
        if not sure:
            st.error("tick the confirmation box first")
            return
        with action(session, "clearing data"):
            removed = store.clear_data(name)
            st.success(f"removed {removed} images")


def render(session: Session) -> None:
    st.header("Integrators")
    store = session.store()
    _create(session, store)
    names = [r["name"] for r in store.list_all()]
    if not names:
        st.info("no integrator yet: create one above")
        return
    if st.session_state.get("integrator") not in names:
        st.session_state["integrator"] = names[0]
    name = st.selectbox("Integrator", names, key="integrator")
    section = st.radio("Section", SECTIONS, horizontal=True, key="section")
    if section == "Settings":
        _settings(session, store, name)
    elif section == "Fitting data":
        _data(session, store, name)
    elif section == "Fit & metrics":
        integrator_fit.render(session, store, name)
    elif section == "Test":
        integrator_test.render(session, store, name)
    else:
        integrator_deploy.render(session, store, name)
