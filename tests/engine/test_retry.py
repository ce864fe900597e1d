"""The retry policy, with sleep injected: nothing here waits for real."""

from __future__ import annotations

import pytest

from bulksend.config import RetryConfig
from bulksend.engine.retry import retrying
from bulksend.errors import AmbiguousOutcome, BatchRejected, RateLimited, TransientError


async def run_policy(policy: RetryConfig, failures: list[Exception]) -> tuple[list[float], int]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    calls = 0
    async for attempt in retrying(policy, sleep=fake_sleep):
        with attempt:
            calls += 1
            if failures:
                raise failures.pop(0)
    return slept, calls


async def test_backoff_grows_and_is_capped() -> None:
    policy = RetryConfig(attempts=6, initial=1.0, max_wait=5.0, jitter=0.0)
    slept, calls = await run_policy(policy, [TransientError("x") for _ in range(5)])
    assert calls == 6
    assert slept == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryConfig(attempts=4, initial=0.1, max_wait=3.0, jitter=0.0)
    slept, _ = await run_policy(policy, [RateLimited("a", retry_after=2.5), RateLimited("b", retry_after=60)])
    assert slept == [2.5, 3.0]


async def test_ambiguous_is_retried_rejection_is_not() -> None:
    policy = RetryConfig(attempts=5, initial=0.0, jitter=0.0)
    slept, calls = await run_policy(policy, [AmbiguousOutcome("dropped")])
    assert calls == 2 and len(slept) == 1
    with pytest.raises(BatchRejected):
        await run_policy(policy, [BatchRejected("400")])


async def test_gives_up_after_attempts() -> None:
    policy = RetryConfig(attempts=3, initial=0.0, jitter=0.0)
    with pytest.raises(TransientError):
        await run_policy(policy, [TransientError(str(i)) for i in range(5)])
