"""Fault injection shared by every API the sandbox speaks."""

from __future__ import annotations

import asyncio
import enum
import random
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from bulksend.sandbox.config import Faults

if TYPE_CHECKING:
    from bulksend.sandbox.state import PlanState


class Fault(enum.Enum):
    NONE = "none"
    SERVER_ERROR = "server_error"
    RATE_LIMIT = "rate_limit"
    DROP = "drop"
    ACCEPT_DROP = "accept_drop"
    LATE_ACCEPT = "late_accept"


#: the request was taken but its client never hears (an API that cannot be
#: asked has no use for the difference a late accept makes)
TAKEN_UNANSWERED = frozenset({Fault.ACCEPT_DROP, Fault.LATE_ACCEPT})


def draw(faults: Faults, rng: random.Random) -> Fault:
    """Pick at most one fault for a request, by the configured fractions."""
    shares = (
        (Fault.SERVER_ERROR, faults.error_rate),
        (Fault.RATE_LIMIT, faults.rate_limit_rate),
        (Fault.DROP, faults.drop_rate),
        (Fault.ACCEPT_DROP, faults.accept_drop_rate),
        (Fault.LATE_ACCEPT, faults.late_accept_rate),
    )
    if not any(share for _fault, share in shares):
        return Fault.NONE
    roll = rng.random()
    for fault, share in shares:
        if roll < share:
            return fault
        roll -= share
    return Fault.NONE


async def add_latency(faults: Faults, rng: random.Random) -> None:
    delay = faults.latency_ms + (rng.random() * faults.latency_jitter_ms if faults.latency_jitter_ms else 0.0)
    if delay > 0:
        await asyncio.sleep(delay / 1000.0)


async def take_request(plan: PlanState, rng: random.Random) -> Fault:
    """Count a send request on ``plan``, draw its fault and add its latency."""
    plan.stats.requests += 1
    fault = draw(plan.faults, rng)
    await add_latency(plan.faults, rng)
    return fault


class DroppedConnection(Exception):
    """Raised by a handler to close the connection without an answer."""


@web.middleware
async def drop_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DroppedConnection:
        transport = request.transport
        if transport is not None:
            transport.abort()  # RST, no response: the client hears nothing
        raise asyncio.CancelledError() from None
