"""Integrators › Versions & deploy: versions with their metrics, roll back, deploy / undeploy,
the endpoint URLs and copy-paste examples."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from loadcheck.console.operations import (
    NewToken,
    deploy_integrator,
    endpoints,
    is_deployed,
    rollback_integrator,
    rotate_token,
    undeploy_integrator,
)
from loadcheck.console.widgets import Session, action
from loadcheck.integrators.fitting import list_versions
from loadcheck.integrators.store import IntegratorStore


def _versions(session: Session, store: IntegratorStore, name: str) -> None:
    versions = list_versions(store, name)
    if not versions:
        st.info("no fitted version yet")
        return
    data = pd.DataFrame(
        [
            {
                "version": str(v["version"]),
                "CV accuracy": (v["cv"] or {}).get("accuracy"),
                "served": "served" if v["served"] else "",
                "images": v["n_samples"],
                "created": v["created_at"],
                "model type": v["model_type"],
            }
            for v in versions
        ]
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("version:N", sort=None),
            y=alt.Y("CV accuracy:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("served:N", legend=None),
            tooltip=list(data.columns),
        )
        .properties(height=200, title="CV accuracy per version")
    )
    st.altair_chart(chart, key="versions_chart")
    numbers = [int(v["version"]) for v in versions]
    served = next((int(v["version"]) for v in versions if v["served"]), numbers[-1])
    chosen = st.selectbox(
        "Version to serve", numbers, numbers.index(served), key="rollback_version"
    )
    if st.button("Roll back to this version", key="rollback"):
        with action(session, "rolling back"):
            live = rollback_integrator(store, name, int(chosen), session.config)
            st.success(f"serving version {chosen}" + (" (reloaded on the server)" if live else ""))


def _deploy(session: Session, store: IntegratorStore, name: str) -> None:
    cfg = session.config
    deployed = is_deployed(cfg, name)
    st.markdown(f"**Deployment**: {'deployed' if deployed else 'not deployed'}")
    left, right = st.columns(2)
    new: NewToken | None = None
    if left.button("Deploy", key="deploy", type="primary"):
        with action(session, "deploying"):
            version, new = deploy_integrator(store, name, cfg)
            st.success(f"deployed {name} (version {version})")
    if right.button("Undeploy", key="undeploy"):
        with action(session, "undeploying"):
            models = undeploy_integrator(store, name, cfg)
            st.success(f"unloaded {', '.join(models)}")
    if st.button("Rotate the legacy URL", key="rotate_token"):
        with action(session, "rotating the gateway token"):
            new = rotate_token(store, name, cfg)
    ends = endpoints(store, name, cfg, None if new is None else new.token)
    st.markdown(f"Triton endpoint: `{ends.triton_infer_url}`")
    if ends.legacy_url:
        st.markdown(f"Legacy endpoint (gateway): `{ends.legacy_url}`")
        st.warning("Copy this URL now: it is shown once (only its hash is kept).")
        st.code(ends.curl_legacy or "", language="bash")
        if new is not None and new.publish_error:
            st.error(new.publish_error)
    else:
        st.caption(
            "The legacy token URL is shown once, on the first deploy or a rotation "
            "(only its hash is kept); rotate it for a new URL."
        )
    st.code(ends.curl_ready, language="bash")
    st.code(ends.python, language="python")


def render(session: Session, store: IntegratorStore, name: str) -> None:
    _versions(session, store, name)
    _deploy(session, store, name)
