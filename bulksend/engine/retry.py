"""Retry policy: which failures are retried, and how long to wait.

Built from tenacity's pieces. The first attempt of a batch runs without
tenacity (the common case costs nothing); only a batch that failed enters
``AsyncRetrying``. ``sleep`` is injectable so tests never wait for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from bulksend.config import RetryConfig
from bulksend.errors import AmbiguousOutcome, TransientError

RETRYABLE = (TransientError, AmbiguousOutcome)

Sleep = Callable[[float], Awaitable[None]]


class wait_retry_after(wait_base):
    """Exponential backoff with jitter, but never less than ``Retry-After``."""

    def __init__(self, backoff: wait_base, max_wait: float) -> None:
        self.backoff = backoff
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.backoff(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            # The provider knows best; cap it so a silly header cannot stall us for hours.
            delay = max(delay, min(float(hint), self.max_wait))
        return delay


def retrying(policy: RetryConfig, *, sleep: Sleep = asyncio.sleep) -> AsyncRetrying:
    """A tenacity loop for a batch whose first attempt already failed.

    The caller replays that failure as the loop's first attempt, so the
    attempt count, the deadline and the first wait all account for it.
    """
    backoff = wait_exponential(multiplier=policy.initial, max=policy.max_wait) + wait_random(0, policy.jitter)
    return AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.deadline),
        wait=wait_retry_after(backoff, policy.max_wait),
        retry=retry_if_exception_type(RETRYABLE),
        sleep=sleep,
        reraise=True,
    )
