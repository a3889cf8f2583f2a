"""One logging setup for every command: text or JSON lines, with the request id."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from loadcheck.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, configure_logging


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without the test runner's handlers (restored after)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    for handler in saved:
        root.removeHandler(handler)
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


def test_json_lines_carry_the_request_id_of_their_context_and_the_traceback() -> None:
    stream = io.StringIO()
    with bare_root():
        assert configure_logging(log_format="json", stream=stream) is not None
        log = logging.getLogger("loadcheck.test")
        log.info("outside %s", "a request")
        token = REQUEST_ID.set("truck-14")
        try:
            log.warning("inside")
            try:
                raise ValueError("broken photo")
            except ValueError:
                log.exception("failed")
        finally:
            REQUEST_ID.reset(token)
    outside, inside, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["message"] == "outside a request" and outside["request_id"] is None
    assert inside == {
        "time": inside["time"],
        "level": "WARNING",
        "logger": "loadcheck.test",
        "message": "inside",
        "request_id": "truck-14",
    }
    assert inside["time"].endswith("+00:00")
    assert failed["request_id"] == "truck-14" and "ValueError: broken photo" in failed["exception"]


def test_a_second_setup_replaces_its_own_handler_and_leaves_foreign_ones_alone() -> None:
    with bare_root() as root:
        first = configure_logging(log_format="text", stream=io.StringIO())
        second = configure_logging(log_format="json", stream=io.StringIO())
        assert root.handlers == [second] and first is not None and first is not second
        foreign = logging.StreamHandler(io.StringIO())
        root.addHandler(foreign)
        assert configure_logging(log_format="text") is None
        assert root.handlers == [second, foreign]
    with pytest.raises(ValueError, match="expected one of text, json"):
        configure_logging(log_format="xml")


def test_an_explicit_request_id_on_a_record_is_kept() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.request_id = "given"
    RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["request_id"] == "given"


def test_every_command_logs_json_lines_when_the_variable_asks(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'records.db'}"
    result = subprocess.run(
        [sys.executable, "-c", "from loadcheck.cli import main; main()", "records", "list"],
        env={"LOADCHECK_LOG_FORMAT": "json", "LOADCHECK_DATABASE_URL": database, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any("migration" in line["message"] for line in lines), result.stderr
    assert all(line["request_id"] is None for line in lines)
