"""Overwriting a secret in a child process's arguments (what ps and /proc/PID/cmdline show)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadcheck.serving.hidden_args import (
    HideError,
    arguments,
    hide_in_arguments,
    thread_count,
    wait_until_multithreaded,
)

#: A child that starts a second thread after a moment (as tritonserver does once it has parsed
#: its options), then prints its own arguments when asked on stdin.
CHILD = """
import sys, threading, time
time.sleep(0.2)
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
sys.stdin.readline()
print(sys.argv[1:], flush=True)
"""


@pytest.fixture
def child():
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "--rule=logging:key=s3cret-value", "--other=s3cret-value"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield proc
    proc.kill()
    proc.wait()


def test_the_secret_is_overwritten_in_place_once_the_child_runs_a_second_thread(child):
    assert wait_until_multithreaded(child.pid, timeout_s=30)
    assert thread_count(child.pid) >= 2
    assert hide_in_arguments(child.pid, "s3cret-value") == 2
    shown = arguments(child.pid)
    assert shown[-2:] == ["--rule=logging:key=************", "--other=************"]
    shown_by_ps = subprocess.run(
        ["ps", "-o", "args=", "-p", str(child.pid)], capture_output=True, text=True
    ).stdout
    assert "s3cret-value" not in shown_by_ps
    # the child parsed its arguments before: it still has the real value
    out, _ = child.communicate("\n", timeout=30)
    assert "s3cret-value" in out


def test_waiting_for_a_child_that_exits_first_returns_false():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert not wait_until_multithreaded(proc.pid, timeout_s=30)
    proc.wait()


def test_a_process_that_is_gone_cannot_be_rewritten():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with pytest.raises(HideError, match=str(proc.pid)):
        hide_in_arguments(proc.pid, "anything")
