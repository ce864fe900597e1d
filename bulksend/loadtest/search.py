"""``--find-max``: the search for the highest sustainable rate, as pure
functions from measured steps to the next rate to try.

A step is one short run at a fixed rate. ``judge`` holds it against the
user's ``Bounds`` and says whether the plan or the generator broke them:
429s, failed answers, slow answers and slow deliveries are the plan's;
late sends, dropped sends and a short achieved rate are the generator's
(the number found is then the client's ceiling, not the plan's).

``SearchPolicy.next_rate`` raises the rate geometrically until a step
fails, then bisects (geometric mean) between the best passing rate and the
lowest failing one above it until they are within ``precision`` of each
other. If the very first step fails it divides down instead. It never
sleeps and never runs anything: the caller runs the step it names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a sustainable rate must keep to."""

    max_rate_limited: float = 0.01       # fraction of requests answered 429
    max_errors: float = 0.01             # fraction of requests failed otherwise
    max_latency_p99_ms: float | None = None   # from intended time
    max_delivery_p99_ms: float | None = None  # accepted -> delivered
    max_lateness_p99_ms: float = 5.0     # the generator keeping its schedule
    min_achieved: float = 0.99           # achieved / target
    max_dropped: float = 0.0             # fraction of recipients not sent (in-flight cap, or time up)

    def __post_init__(self) -> None:
        for name in ("max_rate_limited", "max_errors", "max_dropped"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a fraction between 0 and 1")
        if not 0 < self.min_achieved <= 1:
            raise ValueError("min_achieved must be in (0, 1]")
        for name in ("max_latency_p99_ms", "max_delivery_p99_ms", "max_lateness_p99_ms"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number of milliseconds above 0, not {value:g}")


@dataclass(frozen=True, slots=True)
class StepResult:
    """The figures of one step that the bounds are checked against."""

    rate: float                  # target, recipients/s
    achieved: float              # recipients/s started on time
    requests: int
    rate_limited: int            # 429 answers
    errors: int                  # other failed answers
    dropped_fraction: float
    latency_p99_ms: float
    lateness_p99_ms: float
    delivery_p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reasons: tuple[str, ...] = ()
    #: "plan" or "generator" when not ok: whose limit was hit ("plan" wins a tie)
    limited_by: str = ""


def judge(step: StepResult, bounds: Bounds) -> Verdict:
    plan, generator = _plan_reasons(step, bounds), _generator_reasons(step, bounds)
    if not plan and not generator:
        return Verdict(True)
    return Verdict(False, (*plan, *generator), "plan" if plan else "generator")


def _plan_reasons(step: StepResult, bounds: Bounds) -> list[str]:
    out = []
    requests = max(1, step.requests)
    if step.rate_limited / requests > bounds.max_rate_limited:
        out.append(f"429s {step.rate_limited / requests:.1%} > {bounds.max_rate_limited:.1%}")
    if step.errors / requests > bounds.max_errors:
        out.append(f"errors {step.errors / requests:.1%} > {bounds.max_errors:.1%}")
    if bounds.max_latency_p99_ms is not None and step.latency_p99_ms > bounds.max_latency_p99_ms:
        out.append(f"latency p99 {step.latency_p99_ms:.1f} ms > {bounds.max_latency_p99_ms:g} ms")
    if (bounds.max_delivery_p99_ms is not None and step.delivery_p99_ms is not None
            and step.delivery_p99_ms > bounds.max_delivery_p99_ms):
        out.append(f"delivery p99 {step.delivery_p99_ms:.1f} ms > {bounds.max_delivery_p99_ms:g} ms")
    return out


def _generator_reasons(step: StepResult, bounds: Bounds) -> list[str]:
    out = []
    if step.lateness_p99_ms > bounds.max_lateness_p99_ms:
        out.append(f"send lateness p99 {step.lateness_p99_ms:.1f} ms > {bounds.max_lateness_p99_ms:g} ms")
    if step.achieved < bounds.min_achieved * step.rate:
        out.append(f"achieved {step.achieved:,.0f}/s < {bounds.min_achieved:.0%} of {step.rate:,.0f}/s")
    if step.dropped_fraction > bounds.max_dropped:
        out.append(f"dropped {step.dropped_fraction:.1%} (in-flight cap or time up) > {bounds.max_dropped:.1%}")
    return out


@dataclass(frozen=True, slots=True)
class SearchPolicy:
    """Geometric increase, then bisection to a relative precision."""

    start: float
    factor: float = 2.0
    precision: float = 0.05
    max_steps: int = 12
    max_rate: float = math.inf
    min_rate: float = 1.0

    def __post_init__(self) -> None:
        if self.start <= 0:
            raise ValueError("the starting rate must be positive")
        if not (math.isfinite(self.factor) and self.factor > 1):
            raise ValueError(f"the factor must be a finite number above 1, not {self.factor:g}")
        if math.isnan(self.max_rate) or self.max_rate <= 0:
            raise ValueError(f"the largest rate must be positive, not {self.max_rate:g}")
        if not 0 < self.precision < 1:
            raise ValueError("the precision must be a fraction in (0, 1)")
        if self.max_steps < 1:
            raise ValueError("at least one step is needed")

    def next_rate(self, history: Sequence[tuple[float, bool]]) -> float | None:
        """The rate to try after ``history`` (``(rate, ok)`` in run order), or None to stop."""
        if not history:
            return min(self.start, self.max_rate)
        if len(history) >= self.max_steps:
            return None
        good, bad = bracket(history)
        if bad is None:
            assert good is not None
            if good >= self.max_rate:
                return None
            return min(good * self.factor, self.max_rate)
        if good is None:
            lower = bad / self.factor
            return lower if lower >= self.min_rate else None
        if (bad - good) / good <= self.precision:
            return None
        return math.sqrt(good * bad)


def bracket(history: Sequence[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """The best passing rate, and the lowest failing rate above it.

    A failing step below a passing one (noise) does not pull the answer down:
    the best pass stands, and only failures above it bound the search.
    """
    goods = [rate for rate, ok in history if ok]
    good = max(goods) if goods else None
    bads = [rate for rate, ok in history if not ok and (good is None or rate > good)]
    return good, (min(bads) if bads else None)
