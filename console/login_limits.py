"""How many logins the console lets through: growing delays and a cap on password checks.

* :class:`Backoff` — after ``free_failures`` failed logins within ``window_s`` seconds, the next
  attempt waits ``first_delay_s`` after the last failure, doubling with every further failure up
  to ``max_delay_s``. A delayed attempt is refused without checking the password. Applied per
  (admin name, client address) — :data:`PER_NAME_AND_CLIENT` — and per client address over all
  names — :data:`PER_CLIENT`. Nothing is counted per name alone: wrong passwords sent from
  another address never delay the admin at their own address (the old lock-out by name let
  anyone who knew an admin's name keep them out).
* :class:`PasswordChecks` — at most ``limit`` argon2 computations at once in the process (each
  takes 64 MiB and about 0.3 s); a login that finds no free slot within ``wait_s`` is answered
  "busy" instead of queueing without bound.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from loadcheck.environment import CONSOLE_PASSWORD_CHECKS


@dataclass(frozen=True)
class Backoff:
    """Growing delays after repeated failures (see the module docstring); times in seconds."""

    free_failures: int
    first_delay_s: float
    max_delay_s: float
    window_s: float

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.first_delay_s <= 0 or self.window_s <= 0:
            raise ValueError(
                "Backoff: expected free_failures >= 1, first_delay_s > 0 and window_s > 0, got "
                f"{self.free_failures}, {self.first_delay_s}, {self.window_s}"
            )
        if self.max_delay_s < self.first_delay_s:
            raise ValueError(
                f"Backoff: max_delay_s {self.max_delay_s} is below first_delay_s "
                f"{self.first_delay_s}"
            )

    def delay_s(self, failures: int) -> float:
        """The wait after the last of ``failures`` failures in the window (0: none)."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, 32)  # 2 s x 2**32 is past any cap
        return float(min(self.max_delay_s, self.first_delay_s * 2**doublings))

    def wait_s(self, failures_at_s: Sequence[float], now_s: float) -> float:
        """Seconds the next attempt must still wait, given the failures' UNIX times."""
        recent = sorted(t for t in failures_at_s if now_s - self.window_s < t <= now_s)
        if not recent:
            return 0.0
        return max(0.0, recent[-1] + self.delay_s(len(recent)) - now_s)


#: One admin name from one client address: 3 free failures, then 2, 4, 8, ... up to 300 s.
PER_NAME_AND_CLIENT = Backoff(free_failures=3, first_delay_s=2.0, max_delay_s=300.0, window_s=900.0)
#: One client address, whatever names it tries: 10 free failures, then 2, 4, 8, ... up to 300 s.
PER_CLIENT = Backoff(free_failures=10, first_delay_s=2.0, max_delay_s=300.0, window_s=900.0)


class BusyError(RuntimeError):
    """No password-check slot became free in time."""


class PasswordChecks:
    """At most ``limit`` password hash computations at once (a semaphore), with a high-water mark.

    Args:
        limit: checks running at once (each argon2id check at m = 64 MiB holds 64 MiB).
        wait_s: how long a check waits for a slot before :class:`BusyError`.
    """

    def __init__(self, limit: int, wait_s: float = 10.0) -> None:
        if limit < 1:
            raise ValueError(f"password checks at once: expected >= 1, got {limit}")
        self.limit = limit
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._running = 0
        #: the most checks that ran at once since start (or :meth:`reset_peak`)
        self.peak = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the ``with`` block.

        Raises:
            BusyError: no slot within :attr:`wait_s`.
        """
        if not self._slots.acquire(timeout=self.wait_s):
            raise BusyError(f"{self.limit} password checks were running for {self.wait_s:.0f} s")
        with self._lock:
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
            self._slots.release()

    def reset_peak(self) -> None:
        with self._lock:
            self.peak = self._running


def checks_from_env() -> PasswordChecks:
    """:class:`PasswordChecks` with ``$LOADCHECK_CONSOLE_PASSWORD_CHECKS`` slots (default 2)."""
    text = CONSOLE_PASSWORD_CHECKS.get_text()
    try:
        return PasswordChecks(int(text))
    except ValueError:
        raise ValueError(
            f"${CONSOLE_PASSWORD_CHECKS.name}: expected a whole number >= 1, got {text!r}"
        ) from None


_SHARED: list[PasswordChecks] = []
_SHARED_LOCK = threading.Lock()


def shared_checks() -> PasswordChecks:
    """The process's password checks, made on first use (every
    :class:`~loadcheck.console.auth.AdminStore` without its own shares them)."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(checks_from_env())
        return _SHARED[0]
