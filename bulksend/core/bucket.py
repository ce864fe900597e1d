"""A token bucket over an explicit clock: the caller passes ``now``.

Used where a decision must be made without waiting (the sandbox answering
429, a load test's schedule); it never reads a clock itself, so its tests
are tables of times.
"""

from __future__ import annotations


class TokenBucket:
    """``capacity`` tokens at most, ``rate`` tokens added per second."""

    __slots__ = ("rate", "capacity", "_tokens", "_stamp")

    def __init__(self, rate: float, capacity: float, now: float = 0.0) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._tokens = float(capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def try_take(self, amount: float, now: float) -> bool:
        """Take ``amount`` tokens if they are all there; never goes negative."""
        self._refill(now)
        if amount <= self._tokens:
            self._tokens -= amount
            return True
        return False

    def wait_time(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` tokens will be there (inf if never)."""
        if amount > self.capacity:
            return float("inf")
        self._refill(now)
        return max(0.0, (amount - self._tokens) / self.rate)
