"""Retries with exponential backoff, for transient failures only.

Only :class:`~loadcheck.client.errors.TransientError` (connection refused, HTTP 503, gRPC
``UNAVAILABLE``, timeouts) is retried; a rejected input, an unknown model or a server failure is
raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from loadcheck.client.errors import InspectionError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure.

    Attributes:
        max_attempts: total tries including the first (1 = never retry).
        initial_backoff_s: wait before the second try, in seconds.
        multiplier: each further wait is this many times the previous one.
        max_backoff_s: cap of a single wait, in seconds.
        jitter: each wait is scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.25
    multiplier: float = 2.0
    max_backoff_s: float = 5.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected >= 1, got {self.max_attempts}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff: expected non-negative seconds")
        if self.multiplier < 1:
            raise ValueError(f"multiplier: expected >= 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter: expected a value in [0, 1), got {self.jitter}")

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that tries once."""
        return cls(max_attempts=1)

    def backoff_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the wait after the first failure)."""
        base = min(self.initial_backoff_s * self.multiplier ** (retry - 1), self.max_backoff_s)
        if self.jitter:
            base *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        return base

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        return isinstance(exc, InspectionError) and exc.retryable

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        what: str = "request",
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> tuple[T, float]:
        """Await ``call()`` until it succeeds, retrying transient errors.

        Returns:
            The result and the total seconds spent waiting between tries.

        Raises:
            The last error when it is not retryable or the attempts are used up.
        """
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await call(), waited
            except InspectionError as exc:
                if not exc.retryable or attempt == self.max_attempts:
                    raise
                delay = self.backoff_s(attempt)
                logger.info(
                    "%s failed (%s); retry %d/%d in %.2f s",
                    what,
                    exc,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                await sleep(delay)
                waited += delay
        raise AssertionError("unreachable")  # pragma: no cover
