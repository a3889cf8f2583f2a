"""Keep the API key off ``tritonserver``'s command line (what ``ps`` shows every local user).

Triton 2.51 takes the key of its restricted APIs only as part of ``--http-restricted-api`` /
``--grpc-restricted-protocol``: no option reads it from a file, no environment variable sets it
(checked: ``tritonserver --help``, and the binary reads no such variable). Linux shows every
process's arguments in ``/proc/<pid>/cmdline``, readable by every user of the machine, and reads
them from the process's own memory. Triton copies its options into its own strings while
parsing them, first thing in ``main``, and never reads ``argv`` again; so once the options are
parsed, the parent overwrites the key's bytes in the child's argument memory
(``/proc/<pid>/mem``, which Linux lets a parent write in a child running as the same user) with
``*``: ``ps`` and ``/proc/<pid>/cmdline`` then show ``loadcheck-api-key=*****``.

*When* the options are parsed is observed, not guessed: ``tritonserver`` runs single-threaded
until ``main`` has parsed its options and starts the server, which starts threads (measured on
the 2.51 binary: one thread until exit when the options fail to parse; the first extra thread
about 20 ms after ``exec`` otherwise). :class:`~loadcheck.serving.server.TritonServer` then
checks, once the server is ready, that the restricted APIs accept the real key and refuse a
request without it, and stops with an error otherwise, so hiding the key can never silently
change it.

The key is visible for those first milliseconds; where writing the child's memory is not
allowed (another user, ``kernel.yama.ptrace_scope`` 2 or 3) it stays visible and a warning says
so. ``docs/serving.md`` ("The API key and ``ps``") has the measurements and what the containers
add.
"""

from __future__ import annotations

import time
from pathlib import Path

#: ``/proc/<pid>/stat`` fields (1-based, ``man 5 proc``) with the argument memory's bounds.
_ARG_START_FIELD, _ARG_END_FIELD = 48, 49


class HideError(OSError):
    """The arguments could not be read or overwritten (the reason says why)."""


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` split into fields, field 3 first (the name in field 2 may hold
    spaces and parentheses)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def thread_count(pid: int) -> int:
    """Threads of process ``pid`` (``/proc/<pid>/status``); 0 once it has exited (a zombie
    not yet reaped included)."""
    try:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0
    if status.get("State", "").strip()[:1] in ("Z", "X"):
        return 0
    return int(status.get("Threads", "0").strip() or 0)


def wait_until_multithreaded(pid: int, timeout_s: float = 30.0, poll_s: float = 0.001) -> bool:
    """Wait until ``pid`` runs a second thread (tritonserver: its options are parsed).

    Returns False when the process exited or ``timeout_s`` passed first.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        threads = thread_count(pid)
        if threads == 0:
            return False
        if threads > 1:
            return True
        time.sleep(poll_s)
    return False


def hide_in_arguments(pid: int, secret: str) -> int:
    """Overwrite every occurrence of ``secret`` in process ``pid``'s arguments with ``*``.

    Returns how many occurrences were overwritten. The arguments keep their length, so nothing
    else the process reads moves.

    Raises:
        HideError: ``/proc/<pid>`` cannot be read or written (not Linux, another user, a
            ptrace policy that forbids it, or the process is gone).
    """
    needle = secret.encode()
    if not needle:
        return 0
    try:
        fields = _stat_fields(pid)
        start = int(fields[_ARG_START_FIELD - 3])
        end = int(fields[_ARG_END_FIELD - 3])
        if start == 0 or end <= start:
            raise HideError(f"/proc/{pid}/stat does not show the argument memory (not permitted)")
        count = 0
        with Path(f"/proc/{pid}/mem").open("r+b", buffering=0) as mem:
            mem.seek(start)
            data = mem.read(end - start)
            at = data.find(needle)
            while at >= 0:
                mem.seek(start + at)
                mem.write(b"*" * len(needle))
                count += 1
                at = data.find(needle, at + len(needle))
    except HideError:
        raise
    except (OSError, ValueError, IndexError) as exc:
        raise HideError(f"cannot rewrite the arguments of process {pid}: {exc}") from exc
    return count


def arguments(pid: int) -> list[str]:
    """Process ``pid``'s arguments as ``ps`` shows them (``/proc/<pid>/cmdline``)."""
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    return raw.decode(errors="replace").rstrip("\0").split("\0")
