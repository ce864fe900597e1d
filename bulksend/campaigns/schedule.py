"""Start times: ISO-8601 in, UTC out; and waiting for one.

``--send-at`` takes ISO-8601 with or without an offset; without one the
time is UTC (as Sinch reads it). Times are written back in UTC with a
``Z``, so what the provider and the journal hold is never ambiguous.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone

from bulksend.core.message_rules import parse_time
from bulksend.models import Message

__all__ = ["normalized", "parse_time", "start_time", "to_utc_text", "wait_until"]


def to_utc_text(when: datetime) -> str:
    spec = "milliseconds" if when.microsecond else "seconds"
    return when.astimezone(timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def normalized(message: Message) -> Message:
    """``message`` with ``send_at``/``expire_at`` checked and written in UTC."""
    send_at = to_utc_text(parse_time(message.send_at)) if message.send_at else None
    expire_at = to_utc_text(parse_time(message.expire_at, "--expire-at")) if message.expire_at else None
    if send_at == message.send_at and expire_at == message.expire_at:
        return message
    return replace(message, send_at=send_at, expire_at=expire_at)


def start_time(message: Message) -> float | None:
    """Unix time of ``send_at``, or None."""
    return parse_time(message.send_at).timestamp() if message.send_at else None


async def wait_until(start: float, stop: asyncio.Event, clock: Callable[[], float] = time.time,
                     step: float = 30.0) -> bool:
    """Wait until ``clock() >= start``; False if ``stop`` was set first.

    Waits in steps so that a clock change (or a suspended laptop) is noticed.
    """
    while True:
        left = start - clock()
        if left <= 0:
            return True
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(left, step))
            return False
        except asyncio.TimeoutError:
            continue
