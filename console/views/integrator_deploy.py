"""Integrators › Versions & deploy: versions with their metrics, roll back, deploy / undeploy,
the endpoint URLs and copy-paste examples."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from loadcheck.console.operations import (
    deploy_integrator,
    endpoints,
    is_deployed,
    rollback_integrator,
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
    if left.button("Deploy", key="deploy", type="primary"):
        with action(session, "deploying"):
            version = deploy_integrator(store, name, cfg)
            st.success(f"deployed {name} (version {version})")
    if right.button("Undeploy", key="undeploy"):
        with action(session, "undeploying"):
            models = undeploy_integrator(store, name, cfg)
            st.success(f"unloaded {', '.join(models)}")
    ends = endpoints(store, name, cfg)
    st.markdown(f"Triton endpoint: `{ends.triton_infer_url}`")
    if ends.legacy_url:
        st.markdown(f"Legacy endpoint (gateway): `{ends.legacy_url}`")
        st.code(ends.curl_legacy or "", language="bash")
    else:
        st.caption("The legacy token URL is issued on the first deploy.")
    st.code(ends.curl_ready, language="bash")
    st.code(ends.python, language="python")


def render(session: Session, store: IntegratorStore, name: str) -> None:
    _versions(session, store, name)
    _deploy(session, store, name)
