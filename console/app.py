"""The Streamlit entry point (``loadcheck console`` runs ``streamlit run`` on this file).

Login gate, navigation and log out; each page is a module of :mod:`loadcheck.console.views`.
Before login a session sees the login form and nothing else, and may not upload
(:mod:`loadcheck.console.upload_gate`).
"""

from __future__ import annotations

import logging

import streamlit as st

from loadcheck.console import metrics, upload_gate
from loadcheck.console.auth import AdminStore
from loadcheck.console.config import ConsoleConfig
from loadcheck.console.widgets import Session, client_address
from loadcheck.workspace import Workspace

LOG = logging.getLogger(__name__)
PAGES = (
    "Integrators",
    "Cameras",
    "Inspections",
    "Drift",
    "Segmentator",
    "Segment images",
    "Audit log",
)


def _login(config: ConsoleConfig) -> None:
    st.title("loadcheck console")
    st.caption("Log in with an admin account (created with `loadcheck console create-admin`).")
    name = st.text_input("Admin name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    if st.button("Log in", key="login_button", type="primary"):
        store = AdminStore(Workspace(config.home))
        result = store.login(name, password, client=client_address())
        if result.ok:
            st.session_state["admin"] = name.strip()
            st.session_state.pop("login_password", None)
            st.rerun()
        else:
            st.error(result.message)


def _render(page: str, session: Session) -> None:
    from loadcheck.console.views import (
        audit,
        cameras,
        drift,
        inspections,
        integrators,
        segment_images,
        segmentator,
    )

    modules = {
        "Integrators": integrators,
        "Cameras": cameras,
        "Inspections": inspections,
        "Drift": drift,
        "Segmentator": segmentator,
        "Segment images": segment_images,
        "Audit log": audit,
    }
    modules[page].render(session)


def _start_metrics(config: ConsoleConfig) -> None:
    """The metrics server on ``$LOADCHECK_CONSOLE_METRICS_PORT``, once per process
    (:func:`loadcheck.console.metrics.start_server` ignores every later call)."""
    try:
        metrics.start_server(config.home, config.repository)
    except ValueError as exc:
        st.warning(f"console metrics: {exc}")


def main() -> None:
    st.set_page_config(page_title="loadcheck console", layout="wide")
    try:
        config = ConsoleConfig.from_env()
    except ValueError as exc:
        st.error(f"console configuration: {exc}")
        return
    upload_gate.install()
    _start_metrics(config)
    admin = st.session_state.get("admin")
    upload_gate.mark(upload_gate.current_session_id(), bool(admin))
    if not admin:
        _login(config)
        return
    with st.sidebar:
        st.markdown(f"**loadcheck console**  \nlogged in as `{admin}`")
        page = st.radio("Page", PAGES, key="page")
        if st.button("Log out", key="logout"):
            AdminStore(Workspace(config.home)).logout(admin)
            upload_gate.mark(upload_gate.current_session_id(), False)
            st.session_state.clear()
            st.rerun()
    session = Session(config, admin)
    try:
        _render(str(page), session)
    except Exception as exc:  # a page bug: show its message, never a traceback
        metrics.count_page_error()
        LOG.exception("page %s failed", page)
        st.error(f"this page failed: {exc}")


main()
