"""The sandbox's one clock: every time the sandbox reads goes through it.

``SandboxClock()`` is a monotonic source (the event loop's by default) plus
an offset that only moves forward (``advance``, ``POST /_sandbox/clock``), so
a test can act "tomorrow": scheduled batches come due, list windows move,
timestamps the sandbox writes move with it. ``wall(t)`` turns a clock reading
into epoch seconds; ``iso(t)`` into the UTC, millisecond timestamp Sinch writes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime


def iso_ms(epoch: float) -> str:
    """UTC, millisecond precision, as Sinch writes timestamps."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_utc(epoch: float) -> str:
    """UTC, milliseconds only when there are any: how Sinch echoes ``send_at``/``expire_at``
    (its examples and SDK fixtures write ``2019-08-24T14:19:22Z``)."""
    text = iso_ms(epoch)
    return text.replace(".000Z", "Z")


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO-8601 timestamp; no offset means UTC (Sinch's rule). ValueError if not one."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class SandboxClock:
    """Monotonic ``source`` + a forward-only offset; ``epoch`` ties it to the calendar."""

    def __init__(self, source: Callable[[], float] | None = None,
                 epoch: Callable[[], float] = time.time) -> None:
        self._source = source or _loop_time
        self._epoch = epoch
        self.offset = 0.0
        self._tick = asyncio.Event()

    def __call__(self) -> float:
        return float(self._source()) + self.offset

    def wall(self, t: float) -> float:
        """The epoch time of clock reading ``t`` (both move on ``advance``)."""
        return self._epoch() - float(self._source()) + t

    def real_epoch(self) -> float:
        """The machine's calendar time, without the offset: for checking what a client stamped
        with its own clock (a signed request's ``x-timestamp``), which ``advance`` does not move."""
        return self._epoch()

    def at(self, epoch: float) -> float:
        """The clock reading of epoch time ``epoch`` (inverse of ``wall``)."""
        return epoch - self._epoch() + float(self._source())

    def iso(self, t: float | None = None) -> str:
        return iso_ms(self.wall(self() if t is None else t))

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake everything sleeping on it."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self.offset += seconds
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def sleep_until(self, when: float) -> None:
        """Sleep until the clock reads ``when``, waking early if it is advanced past it."""
        while (delay := when - self()) > 0:
            tick = self._tick
            try:
                await asyncio.wait_for(tick.wait(), delay)
            except TimeoutError:
                pass
