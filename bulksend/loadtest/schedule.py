"""The open-loop schedule: when each batch of a load test is due.

The rate is a linear ramp ``r(t) = F + (T - F) * t / S`` recipients per
second over ``[0, S)`` (a constant rate is the ramp with ``F == T``). The
recipients due by time ``t`` are the integral ``N(t) = F*t + (T-F)*t²/(2S)``,
and batch ``k`` of ``b`` recipients is due the moment ``N(t) == k*b``: the
root of a quadratic, solved exactly, never by stepping a clock. Nothing here
reads a clock or sleeps; the runner adds the start time.

With several workers the global batch sequence is dealt out round-robin:
worker ``i`` of ``n`` owns batches ``i, i+n, i+2n, ...``, so each runs at
``r/n`` with its phase staggered and together they keep the one schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Floating-point slack when counting batches: N(S)/b = 2000.0000000001
# must still be 2000 batches, not 2001.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RateProfile:
    """How many recipients per second are due, over ``duration`` seconds."""

    start_rate: float
    end_rate: float
    duration: float

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise ValueError("the duration must be positive")
        if self.start_rate < 0 or self.end_rate < 0:
            raise ValueError("rates must be >= 0")
        if self.start_rate == 0 and self.end_rate == 0:
            raise ValueError("a ramp from 0 to 0 sends nothing")

    @classmethod
    def constant(cls, rate: float, duration: float) -> RateProfile:
        return cls(rate, rate, duration)

    @property
    def is_constant(self) -> bool:
        return self.start_rate == self.end_rate

    @property
    def mean_rate(self) -> float:
        return (self.start_rate + self.end_rate) / 2

    @property
    def total(self) -> float:
        """Recipients due over the whole run (``N(S)``)."""
        return self.duration * self.mean_rate

    def rate_at(self, t: float) -> float:
        return self.start_rate + (self.end_rate - self.start_rate) * t / self.duration

    def due_by(self, t: float) -> float:
        """``N(t)``: recipients due in ``[0, t]``."""
        slope = (self.end_rate - self.start_rate) / self.duration
        return self.start_rate * t + slope * t * t / 2

    def time_of(self, n: float) -> float:
        """The ``t`` at which ``N(t) == n`` (the inverse of ``due_by``).

        ``a t² + F t - n = 0`` with ``a = (T-F)/(2S)``; the root is written
        as ``2n / (F + sqrt(F² + 4an))``, which stays exact when ``a`` is 0
        or negative (a ramp down) and never divides 0 by 0 for ``n > 0``.
        """
        if n <= 0:
            return 0.0
        a = (self.end_rate - self.start_rate) / (2 * self.duration)
        disc = max(0.0, self.start_rate * self.start_rate + 4 * a * n)
        return 2 * n / (self.start_rate + math.sqrt(disc))


@dataclass(frozen=True, slots=True)
class Schedule:
    """Batches of ``batch_size`` recipients laid on a ``RateProfile``."""

    profile: RateProfile
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("the batch size must be at least 1")

    @property
    def batches(self) -> int:
        """How many batches are due in ``[0, duration)``: every ``k`` with ``k*b < N(S)``."""
        return max(1, math.ceil(self.profile.total / self.batch_size - _EPS))

    @property
    def recipients(self) -> int:
        return self.batches * self.batch_size

    def due(self, k: int) -> float:
        """Seconds after the start at which batch ``k`` is due."""
        return self.profile.time_of(k * self.batch_size)

    def owned_by(self, worker: int, workers: int) -> range:
        """The batch numbers worker ``worker`` of ``workers`` sends."""
        if not 0 <= worker < workers:
            raise ValueError(f"worker {worker} is not one of 0..{workers - 1}")
        return range(worker, self.batches, workers)

    def owned_per_second(self, worker: int, workers: int, first: int) -> list[int]:
        """How many of worker ``worker``'s batches from ``first`` on are due in each
        whole second, counted without walking them (a rate of 1e9 has 1e9 batches).

        Batch ``k`` is due before ``t`` when ``k*b < N(t)``, so the batches due
        before ``t`` are the first ``ceil(N(t)/b)``; the last second takes what
        rounding left, so the counts add up to exactly the batches owned."""
        total = self.batches
        first = max(0, min(first, total))

        def owned_below(x: int) -> int:  # k in [0, x) with k % workers == worker
            return (x - worker + workers - 1) // workers if x > worker else 0

        seconds = max(1, math.ceil(self.profile.duration - _EPS))
        counts = []
        below = owned_below(first)
        for s in range(1, seconds):
            edge = min(total, max(first, math.ceil(self.profile.due_by(float(s)) / self.batch_size - _EPS)))
            upto = owned_below(edge)
            counts.append(upto - below)
            below = upto
        counts.append(owned_below(total) - below)
        return counts

    def due_per_second(self) -> list[int]:
        """Recipients due in each whole second: the target series."""
        seconds = [0] * max(1, math.ceil(self.profile.duration - _EPS))
        for k in range(self.batches):
            seconds[min(len(seconds) - 1, int(self.due(k)))] += self.batch_size
        return seconds
