"""Where a run went wrong, second by second: the plan saturating, or the
generator falling behind. Pure functions over the per-second series.

The plan saturated at the first second with 429s or failed answers, a p99
latency over the user's bound, or a delivery queue backing up: batches
accepted that second took (p50) over four times as long to be delivered as
in the run's first seconds, and at least 100 ms longer; or over the user's
delivery bound. The generator fell behind at the first second with dropped
sends (the in-flight cap was reached, or the time was up) or with more than 5% of its sends late
and more than two batches of them (one stall is not a trend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

LATE_SHARE = 0.05
BACKLOG_FACTOR = 4.0
BACKLOG_MIN_MS = 100.0
BASELINE_SECONDS = 3


@dataclass(frozen=True, slots=True)
class Saturation:
    second: int
    reason: str


class _Second(Protocol):
    @property
    def t(self) -> int: ...
    @property
    def target(self) -> int: ...
    @property
    def rate_limited(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def late(self) -> int: ...
    @property
    def latency_p99(self) -> float | None: ...
    @property
    def delivery_p50(self) -> float | None: ...
    @property
    def delivery_p99(self) -> float | None: ...


def plan_saturation(seconds: Sequence[_Second], max_latency_p99_ms: float | None = None,
                    max_delivery_p99_ms: float | None = None) -> Saturation | None:
    baseline = _delivery_baseline(seconds)
    for p in seconds:
        if p.rate_limited:
            return Saturation(p.t, f"{p.rate_limited:,} answers 429")
        if p.errors:
            return Saturation(p.t, f"{p.errors:,} failed answers")
        if max_latency_p99_ms is not None and p.latency_p99 is not None and p.latency_p99 > max_latency_p99_ms:
            return Saturation(p.t, f"latency p99 {p.latency_p99:,.1f} ms")
        if (max_delivery_p99_ms is not None and p.delivery_p99 is not None
                and p.delivery_p99 > max_delivery_p99_ms):
            return Saturation(p.t, f"delivery p99 {p.delivery_p99:,.0f} ms")
        if (baseline is not None and p.delivery_p50 is not None
                and p.delivery_p50 > max(BACKLOG_FACTOR * baseline, baseline + BACKLOG_MIN_MS)):
            return Saturation(p.t, f"delivery queue backing up: p50 {p.delivery_p50:,.0f} ms, "
                                   f"was {baseline:,.0f} ms")
    return None


def generator_behind(seconds: Sequence[_Second], batch_size: int = 1) -> Saturation | None:
    for p in seconds:
        if p.dropped:
            return Saturation(p.t, f"{p.dropped:,} sends dropped (in-flight cap, or not started by the end)")
        if p.late > LATE_SHARE * max(1, p.target) and p.late > 2 * batch_size:
            return Saturation(p.t, f"{p.late:,} sends late")
    return None


def _delivery_baseline(seconds: Sequence[_Second]) -> float | None:
    early = [p.delivery_p50 for p in seconds if p.delivery_p50 is not None][:BASELINE_SECONDS]
    return min(early) if early else None
