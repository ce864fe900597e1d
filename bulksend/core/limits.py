"""What limits a run's rate, from figures measured while it ran (pure: no clock, no I/O).

A run can go no faster than the least of:

- the plan's ``rate`` (its bucket);
- what its requests in flight allow: by Little's law, ``concurrency`` requests of
  ``batch`` recipients answered in ``latency`` seconds carry at most
  ``concurrency * batch / latency`` recipients a second;
- what the provider lets through (it answers 429 when it is faster than the provider's own limit);
- the client's CPU, when the process is busy all the time.

``limit`` names the one that held the run back, with the figures that show it;
``bulksend.cli.render.limit_text`` words it. ``auto_concurrency`` sizes
``concurrency = "auto"`` with the same law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: at this share of the plan's rate (or of what concurrency allows) a run counts as held there
NEAR = 0.9
#: a share of requests answered 429 from which the provider counts as the limit
MANY_429 = 0.05
#: the share of one core from which the client's CPU counts as the limit
BUSY_CPU = 0.9
#: ``concurrency = "auto"`` keeps this much more in flight than Little's law asks for (latency varies)
HEADROOM = 1.25


@dataclass(frozen=True, slots=True)
class Measured:
    """What a run (or its recent window) did, and what its plan allows."""

    #: recipients accepted (or sent) a second
    achieved: float
    #: the plan's rate, recipients a second
    plan_rate: float
    #: requests in flight at most
    concurrency: int
    #: mean recipients a request
    batch: float
    #: mean seconds a request took to be answered; None before the first answer
    latency_s: float | None
    requests: int = 0
    rate_limited: int = 0
    #: CPU seconds the process used per second of the run (1.0: one core busy)
    cpu: float | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """What held a run back: ``kind`` is ``rate`` (the plan's), ``concurrency``
    (requests in flight), ``provider`` (429s) or ``cpu`` (the client's)."""

    kind: str
    achieved: float
    plan_rate: float
    concurrency: int
    batch: float
    latency_s: float | None
    #: recipients a second the requests in flight allow (None: no latency measured)
    ceiling: float | None
    #: the concurrency that would reach the plan's rate (kind ``concurrency``)
    needed: int | None
    requests: int
    rate_limited: int
    cpu: float | None

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "achieved": round(self.achieved, 1), "plan_rate": self.plan_rate,
                "concurrency": self.concurrency, "batch": round(self.batch, 1),
                "latency_ms": None if self.latency_s is None else round(self.latency_s * 1000, 1),
                "ceiling": None if self.ceiling is None else round(self.ceiling, 1), "needed": self.needed,
                "requests": self.requests, "rate_limited": self.rate_limited,
                "cpu": None if self.cpu is None else round(self.cpu, 2)}


def ceiling(concurrency: int, batch: float, latency_s: float | None) -> float | None:
    """Recipients a second that ``concurrency`` requests of ``batch`` answered in ``latency_s`` carry."""
    if latency_s is None or latency_s <= 0:
        return None
    return concurrency * batch / latency_s


def needed_concurrency(rate: float, batch: float, latency_s: float) -> int:
    """Requests in flight that carry ``rate`` recipients a second (Little's law: L = λW)."""
    return max(1, math.ceil(rate / max(batch, 1.0) * latency_s - 1e-9))


def auto_concurrency(rate: float, batch: float, latency_s: float | None, most: int, current: int) -> int:
    """``concurrency = "auto"``: what Little's law asks for, with headroom, capped by ``most``
    (``current`` until a latency was measured)."""
    if latency_s is None or latency_s <= 0:
        return min(current, most)
    return max(1, min(most, math.ceil(needed_concurrency(rate, batch, latency_s) * HEADROOM)))


def limit(m: Measured) -> Limit | None:
    """What held the run back, or None when nothing measured says (too little sent, or
    a run that was held by none of these: its list, its journal, a stop)."""
    if m.achieved <= 0 and not m.rate_limited:
        return None
    top = ceiling(m.concurrency, m.batch, m.latency_s)
    needed = needed_concurrency(m.plan_rate, m.batch, m.latency_s) if m.latency_s else None

    def made(kind: str) -> Limit:
        return Limit(kind, m.achieved, m.plan_rate, m.concurrency, m.batch, m.latency_s, top,
                     needed if kind == "concurrency" else None, m.requests, m.rate_limited, m.cpu)

    if m.requests and m.rate_limited / m.requests >= MANY_429:
        return made("provider")
    if m.achieved >= NEAR * m.plan_rate:
        return made("rate")
    if top is not None and top < m.plan_rate and m.achieved >= NEAR * top:
        return made("concurrency")
    if m.cpu is not None and m.cpu >= BUSY_CPU:
        return made("cpu")
    return None
