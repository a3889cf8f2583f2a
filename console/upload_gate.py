"""Only logged-in console sessions may upload files.

Streamlit (1.67) hands upload URLs to any open session that asks (a ``file_urls_request`` over
the websocket; no file uploader needs to be on the page) and accepts ``PUT
/_stcore/upload_file/<session>/<file>`` for any active session, keeping every file in memory
until the session ends. Before this gate a session that never logged in uploaded 2 x 200 MB
(issue 23). :func:`install` wraps the running Streamlit server's checks once per process: a
session that is not marked logged in gets no upload URLs, and its ``PUT`` is refused (400,
"Invalid session_id") before its body is read. The console page marks a session logged in on
every run that has an admin, and unmarks it at logout (:func:`mark`).

Outside a Streamlit server (AppTest, library use) :func:`install` does nothing.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

LOG = logging.getLogger(__name__)

_LOGGED_IN: set[str] = set()
_LOCK = threading.Lock()
_INSTALLED: list[object] = []  # the runtime the gate is installed on


def mark(session_id: str | None, logged_in: bool) -> None:
    """Record whether session ``session_id`` has a logged-in admin (None: nothing to record)."""
    if not session_id:
        return
    with _LOCK:
        if logged_in:
            _LOGGED_IN.add(session_id)
        else:
            _LOGGED_IN.discard(session_id)


def may_upload(session_id: str) -> bool:
    with _LOCK:
        return session_id in _LOGGED_IN


def current_session_id() -> str | None:
    """The session id of the script run on this thread (None outside a run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else str(ctx.session_id)


def _gate_is_active_session(original: Callable[[str], bool]) -> Callable[[str], bool]:
    @functools.wraps(original)
    def is_active_session(session_id: str) -> bool:
        if not original(session_id):
            mark(session_id, False)  # forget sessions that ended
            return False
        if not may_upload(session_id):
            LOG.warning("upload refused: session %s… has not logged in", session_id[:8])
            return False
        return True

    return is_active_session


def _gate_upload_urls(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    @functools.wraps(original)
    def get_upload_urls(session_id: str, file_names: Sequence[str]) -> list[Any]:
        if not may_upload(session_id):
            LOG.warning("upload URLs refused: session %s… has not logged in", session_id[:8])
            return []
        return original(session_id, file_names)

    return get_upload_urls


def _gate_add_file(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def add_file(session_id: str, file: Any) -> None:
        if not may_upload(session_id):
            raise PermissionError(f"session {session_id[:8]}… has not logged in")
        original(session_id, file)

    return add_file


def install() -> bool:
    """Put the gate on the running Streamlit server (once); False when there is none."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return False
    runtime: Any = Runtime.instance()
    with _LOCK:
        if runtime in _INSTALLED:
            return True
        # Streamlit's upload PUT handler asks runtime.is_active_session first, before it
        # reads the body; nothing else in Streamlit 1.67 calls it.
        runtime.is_active_session = _gate_is_active_session(runtime.is_active_session)
        manager: Any = runtime.uploaded_file_mgr
        manager.get_upload_urls = _gate_upload_urls(manager.get_upload_urls)
        manager.add_file = _gate_add_file(manager.add_file)
        _INSTALLED.append(runtime)
    LOG.info("upload gate installed: only logged-in sessions may upload")
    return True
