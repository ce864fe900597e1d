"""The plan's token bucket, counting recipients rather than requests."""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter


class RecipientBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens a second.

    One token is one recipient, as providers count it. ``AsyncLimiter``
    serves smaller amounts first, so a plan keeps FIFO order by having one
    pacer spend for one batch at a time (see ``PlanRunner``); retries of
    older batches may overtake it, which is the order we want anyway.
    """

    __slots__ = ("rate", "burst", "waited", "_limiter")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._limiter = AsyncLimiter(burst, burst / rate)
        #: seconds ``spend`` has waited in all (read by metrics at scrape time)
        self.waited = 0.0

    async def spend(self, recipients: int) -> None:
        """Wait until ``recipients`` tokens are there, then take them."""
        if recipients > self.burst:
            raise ValueError(f"a batch of {recipients} can never fit a bucket of {self.burst}")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self._limiter.acquire(recipients)
        self.waited += loop.time() - started
