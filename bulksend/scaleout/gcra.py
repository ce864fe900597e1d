"""Recipient-weighted GCRA by booking: the arithmetic, with no I/O.

A plan has one "theoretical arrival time" (TAT): when its bucket would be
full again had nobody spent since. Booking a batch of ``cost`` recipients
moves the TAT forward by ``cost / rate`` and says how long to wait before
the request may leave: until ``new TAT - burst / rate``. Nobody is refused,
so nobody retries: one call a batch, and batches leave in the order they
booked, large or small. Over any window of ``t`` seconds at most
``rate * t + burst`` recipients leave (the token bucket's promise).

This module is the model; Redis runs the same arithmetic in Lua
(``scripts._BOOK``), where bookings from every worker are served one at a
time. The tests hold the two to each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Booking:
    """One batch booked: the plan's new TAT and the wait, in microseconds."""

    tat: int
    wait: int


@dataclass(frozen=True, slots=True)
class Pace:
    """A plan's shared rate: recipients a second, and how many may go at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")

    def book(self, tat: int, now: int, cost: int) -> Booking:
        """Book ``cost`` recipients at ``now`` against the plan's ``tat`` (µs)."""
        start = max(tat, now)
        new_tat = start + math.ceil(cost * MICROS / self.rate)
        wait = new_tat - math.floor(self.burst * MICROS / self.rate) - now
        return Booking(new_tat, max(0, wait))
