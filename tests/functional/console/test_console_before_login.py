"""Before login the console is the login form and nothing else: no widgets of the pages, no
upload URLs, no uploads (issue 23, item 5). Driven through AppTest and, for the uploads, a real
``loadcheck console`` spoken to over its websocket and HTTP as a browser (or an attacker) would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from loadcheck.console.auth import AdminStore
from loadcheck.workspace import Workspace

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "console-test-password"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ws"
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    monkeypatch.setenv("LOADCHECK_HOME", str(home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(tmp_path / "model_repository"))
    monkeypatch.setenv("LOADCHECK_TRITON_URL", "127.0.0.1:9")  # nothing there: not needed
    return home


def test_before_login_the_page_is_the_login_form_and_nothing_else(home: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert [t.key for t in at.text_input] == ["login_name", "login_password"]
    assert [b.key for b in at.button] == ["login_button"]
    assert len(at.get("file_uploader")) == 0
    assert len(at.sidebar) == 0 and len(at.radio) == 0


def test_a_wrong_password_shows_an_error_and_still_only_the_login_form(home: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input("not the password")
    at.button(key="login_button").click().run()
    assert "wrong name or password" in at.error[0].value
    assert len(at.get("file_uploader")) == 0 and "admin" not in at.session_state


# ------------------------------------------------------------------- a real console, its protocol
@dataclass
class ConsoleSession:
    """One websocket session of a running console: the widgets it was shown, its uploads."""

    port: int
    session_id: str = ""
    widget_ids: dict[str, str] = field(default_factory=dict)  # widget label -> id
    xsrf: str = ""

    async def _read_until(self, ws: object, kind: str) -> list[object]:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        seen = []
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(ws.recv(), 60))  # type: ignore[attr-defined]
            seen.append(msg)
            which = msg.WhichOneof("type")
            if which == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            if which == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                widget = getattr(element, element.WhichOneof("type"))
                if hasattr(widget, "id") and hasattr(widget, "label"):
                    self.widget_ids[widget.label] = widget.id
            if which == kind:
                return seen

    async def run_script(self, ws: object, states: list[object] | None = None) -> list[object]:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg()
        back.rerun_script.query_string = ""
        for state in states or []:
            back.rerun_script.widget_states.widgets.append(state)
        await ws.send(back.SerializeToString())  # type: ignore[attr-defined]
        return await self._read_until(ws, "script_finished")

    async def upload_urls(self, ws: object) -> list[str]:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg()
        back.file_urls_request.request_id = "r1"
        back.file_urls_request.file_names.append("fitting.zip")
        back.file_urls_request.session_id = self.session_id
        await ws.send(back.SerializeToString())  # type: ignore[attr-defined]
        reply = (await self._read_until(ws, "file_urls_response"))[-1]
        return [u.upload_url for u in reply.file_urls_response.file_urls]  # type: ignore[attr-defined]

    def put(self, url: str, size: int) -> int:
        import httpx

        response = httpx.put(
            f"http://127.0.0.1:{self.port}{url}",
            files={"file": ("fitting.zip", b"\0" * size)},
            headers={"X-Xsrftoken": self.xsrf},
            cookies={"_streamlit_xsrf": self.xsrf},
            timeout=60,
        )
        return int(response.status_code)


def _login_states(session: ConsoleSession) -> list[object]:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    name, password, button = WidgetState(), WidgetState(), WidgetState()
    name.id, name.string_value = session.widget_ids["Admin name"], ADMIN
    password.id, password.string_value = session.widget_ids["Password"], PASSWORD
    button.id, button.trigger_value = session.widget_ids["Log in"], True
    return [name, password, button]


async def _talk(port: int) -> dict[str, object]:
    """Connect, try to upload before login, log in, upload again; what happened at each step."""
    import httpx
    import websockets

    out: dict[str, object] = {}
    session = ConsoleSession(port)
    health = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=30)
    session.xsrf = health.cookies.get("_streamlit_xsrf") or ""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],  # type: ignore[list-item]
        additional_headers={"Cookie": f"_streamlit_xsrf={session.xsrf}"},
        max_size=None,
    ) as ws:
        await session.run_script(ws)
        out["widgets_before_login"] = sorted(session.widget_ids)
        out["urls_before_login"] = await session.upload_urls(ws)
        made_up = f"/_stcore/upload_file/{session.session_id}/made-up-file-id"
        out["put_before_login"] = session.put(made_up, 1 << 20)
        await session.run_script(ws, _login_states(session))
        await session.run_script(ws)  # the page after st.rerun()
        urls = await session.upload_urls(ws)
        out["urls_after_login"] = urls
        out["put_after_login"] = session.put(urls[0], 1 << 20) if urls else None
    return out


@pytest.fixture
def console_port(home: Path, tmp_path: Path) -> Iterator[int]:
    from loadcheck.serving.server import free_port

    port = free_port()
    loadcheck = shutil.which("loadcheck") or str(Path(sys.executable).with_name("loadcheck"))
    log = (tmp_path / "console.log").open("wb")
    proc = subprocess.Popen(
        [loadcheck, "console", "--port", str(port)],  # 127.0.0.1 unless told otherwise
        env={**os.environ, "LOADCHECK_CONSOLE_MAX_UPLOAD_MB": "4"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "console.log").read_text()) from None
                time.sleep(0.5)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_a_session_that_never_logged_in_gets_no_upload_url_and_its_upload_is_refused(
    console_port: int,
) -> None:
    seen = asyncio.run(_talk(console_port))
    assert seen["widgets_before_login"] == ["Admin name", "Log in", "Password"]
    assert seen["urls_before_login"] == []
    assert seen["put_before_login"] == 400  # refused before its body is read
    # the same session, logged in, uploads as before
    assert len(seen["urls_after_login"]) == 1  # type: ignore[arg-type]
    assert seen["put_after_login"] == 204


def test_the_upload_limit_comes_from_the_settings(console_port: int) -> None:
    """``LOADCHECK_CONSOLE_MAX_UPLOAD_MB=4`` for this console: 5 MB is refused (413)."""

    async def upload_5_mb(port: int) -> int:
        import httpx
        import websockets

        session = ConsoleSession(port)
        session.xsrf = (
            httpx.get(f"http://127.0.0.1:{port}/_stcore/health").cookies.get("_streamlit_xsrf")
            or ""
        )
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            additional_headers={"Cookie": f"_streamlit_xsrf={session.xsrf}"},
        ) as ws:
            await session.run_script(ws)
            await session.run_script(ws, _login_states(session))
            await session.run_script(ws)
            url = (await session.upload_urls(ws))[0]
            return session.put(url, 5 << 20)

    assert asyncio.run(upload_5_mb(console_port)) == 413


def test_the_cli_refuses_an_upload_limit_that_is_not_a_number(home: Path) -> None:
    from typer.testing import CliRunner

    from loadcheck.cli import app

    result = CliRunner().invoke(
        app, ["console", "--home", str(home)], env={"LOADCHECK_CONSOLE_MAX_UPLOAD_MB": "2GB"}
    )
    assert result.exit_code == 2
    assert "LOADCHECK_CONSOLE_MAX_UPLOAD_MB: expected a whole number of MB" in result.output


_ = PasswordHasher  # the console's own hasher is used: logins take about 0.3 s
