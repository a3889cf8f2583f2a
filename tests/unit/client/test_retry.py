from __future__ import annotations

import asyncio
import random

import pytest

from loadcheck.client.errors import (
    InspectionTimeoutError,
    InvalidImageError,
    ModelNotFoundError,
    RejectedInputError,
    ServerError,
    TransientError,
)
from loadcheck.client.retry import RetryPolicy


class Flaky:
    """Raises the given errors in turn, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(policy: RetryPolicy, call: Flaky) -> tuple[tuple[str, float], list[float]]:
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    return asyncio.run(policy.run(call, sleep=sleep)), sleeps


def test_backoff_doubles_from_the_initial_wait_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff_s=0.5, multiplier=2, max_backoff_s=3, jitter=0)
    assert [policy.backoff_s(i) for i in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_within_its_bounds() -> None:
    policy = RetryPolicy(initial_backoff_s=1, jitter=0.2, rng=random.Random(0))
    waits = [policy.backoff_s(1) for _ in range(200)]
    assert min(waits) >= 0.8 and max(waits) <= 1.2
    assert max(waits) - min(waits) > 0.1


@pytest.mark.parametrize("error", [TransientError("refused"), InspectionTimeoutError("slow")])
def test_transient_failures_are_retried_until_success(error: Exception) -> None:
    call = Flaky(error, error)
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=0.1, jitter=0)
    (value, waited), sleeps = run(policy, call)
    assert value == "ok"
    assert call.calls == 3
    assert sleeps == [0.1, 0.2]
    assert waited == pytest.approx(0.3)


@pytest.mark.parametrize(
    "error",
    [
        RejectedInputError("400"),
        InvalidImageError("not an image"),
        ModelNotFoundError("x"),
        ServerError("500"),
    ],
)
def test_rejected_input_and_server_failures_are_never_retried(error: Exception) -> None:
    call = Flaky(error)
    with pytest.raises(type(error)):
        run(RetryPolicy(max_attempts=5), call)
    assert call.calls == 1


def test_the_last_transient_error_is_raised_when_attempts_run_out() -> None:
    call = Flaky(*[TransientError(f"try {i}") for i in range(5)])
    with pytest.raises(TransientError, match="try 2"):
        run(RetryPolicy(max_attempts=3, initial_backoff_s=0, jitter=0), call)
    assert call.calls == 3


def test_a_policy_that_never_retries_tries_once() -> None:
    call = Flaky(TransientError("down"))
    with pytest.raises(TransientError):
        run(RetryPolicy.never(), call)
    assert call.calls == 1


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"multiplier": 0.5}, {"jitter": 1.0}, {"initial_backoff_s": -1}]
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
