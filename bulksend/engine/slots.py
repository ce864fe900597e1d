"""A plan's worker slots: a semaphore whose size can change (``concurrency = "auto"``)."""

from __future__ import annotations

import asyncio


class Slots:
    """``limit`` requests in flight at most. One task (the plan's pacer) acquires;
    workers release. ``resize`` takes effect at the next acquire or release."""

    __slots__ = ("limit", "busy", "_free")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.busy = 0
        self._free = asyncio.Event()

    async def acquire(self) -> None:
        while self.busy >= self.limit:
            self._free.clear()
            await self._free.wait()
        self.busy += 1

    def release(self) -> None:
        self.busy -= 1
        self._free.set()

    def resize(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._free.set()
