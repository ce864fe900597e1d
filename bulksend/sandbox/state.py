"""What the sandbox remembers: per plan, its bucket, batches and counters."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bulksend.core.bucket import TokenBucket
from bulksend.sandbox.clock import SandboxClock
from bulksend.sandbox.config import Faults, SandboxConfig, SandboxPlan


@dataclass(slots=True)
class PlanStats:
    requests: int = 0
    batches: int = 0
    recipients: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    drops: int = 0
    accept_drops: int = 0
    late_accepts: int = 0
    bad_requests: int = 0
    unauthorized: int = 0
    lookups: int = 0


@dataclass(slots=True)
class CallbackStats:
    """What the sandbox's delivery callbacks did (``/_sandbox/stats`` → ``callbacks``)."""

    scheduled: int = 0   # callbacks due (one per recipient, or one per batch for summary/full)
    attempts: int = 0    # POSTs made, retries included
    ok: int = 0          # answered 2xx
    retried: int = 0     # attempts that will be tried again (5xx, 429, no answer)
    rejected: int = 0    # answered another 4xx: not retried, as Sinch does
    given_up: int = 0    # out of retries
    refused: int = 0     # batches refused because their callback_url was not loopback

    @property
    def pending(self) -> int:
        return self.scheduled - self.ok - self.rejected - self.given_up


@dataclass(slots=True)
class BatchRecord:
    """A batch the sandbox accepted (the JSON it answers with, plus timing)."""

    id: str
    to: list[str]
    data: dict[str, Any]
    accepted_at: float
    dispatched_at: float
    canceled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: epoch seconds it was created (the batch list's date window)
    created: float = 0.0

    @property
    def client_reference(self) -> str | None:
        ref = self.data.get("client_reference")
        return ref if isinstance(ref, str) else None


class PlanState:
    """One service plan inside the sandbox."""

    def __init__(self, plan_id: str, plan: SandboxPlan, faults: Faults, *, sink: bool, now: float) -> None:
        self.plan_id = plan_id
        self.plan = plan
        self.faults = plan.faults or faults
        self.sink = sink
        self.bucket = TokenBucket(plan.rate, plan.burst, now)
        self.drain_until = now
        self.stats = PlanStats()
        self.received: Counter[str] = Counter()
        self.batches: dict[str, BatchRecord] = {}
        self.by_reference: dict[str, list[str]] = {}
        #: one-number message APIs (Clickatell, Classic): message id -> (record id, number)
        self.messages: dict[str, tuple[str, str]] = {}
        #: messages the plan may still send (None: no limit)
        self.credit = plan.credit
        #: XMS inbound messages (MO) by id, oldest first, and groups by id
        self.inbounds: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}

    def over_limit(self, recipients: int, now: float) -> float | None:
        """In ``reject`` mode, seconds to wait if ``recipients`` do not fit now."""
        if self.plan.mode != "reject":
            return None
        if self.bucket.try_take(recipients, now):
            return None
        return self.bucket.wait_time(recipients, now)

    def dispatch_time(self, recipients: int, now: float) -> float:
        """In ``queue`` mode, when the plan's FIFO queue will have sent this batch."""
        start = max(now, self.drain_until)
        self.drain_until = start + recipients / self.plan.rate
        return self.drain_until

    def record(self, record: BatchRecord) -> None:
        self.stats.batches += 1
        self.stats.recipients += len(record.to)
        if self.sink:
            return
        self.received.update(record.to)
        self.batches[record.id] = record
        ref = record.client_reference
        if ref is not None:
            self.by_reference.setdefault(ref, []).append(record.id)

    def count_numbers(self, numbers: list[str]) -> None:
        """For APIs that send one number at a time outside ``record``."""
        self.stats.batches += 1
        self.stats.recipients += len(numbers)
        if not self.sink:
            self.received.update(numbers)

    def snapshot(self, with_numbers: bool) -> dict[str, Any]:
        counts = self.received.values()
        out: dict[str, Any] = {
            **{k: getattr(self.stats, k) for k in PlanStats.__dataclass_fields__},
            "distinct_numbers": len(self.received),
            "numbers_received_more_than_once": sum(1 for c in counts if c > 1),
            "max_receipts_per_number": max(counts, default=0),
        }
        if with_numbers:
            out["received"] = dict(self.received)
        return out


class SandboxState:
    """All plans of one running sandbox."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock | Callable[[], float] | None = None) -> None:
        self.config = config
        #: the one clock every sandbox time read goes through (``advance`` moves it)
        self.clock = clock if isinstance(clock, SandboxClock) else SandboxClock(clock)
        self.rng = random.Random(config.seed)
        self.plans: dict[str, PlanState] = {}
        self.callbacks = CallbackStats()
        #: work the sandbox finishes after it answered (late accepts); cancelled when it stops
        self.background: set[asyncio.Task[None]] = set()
        self._next_id = 0
        for plan_id, plan in config.plans.items():
            self.plans[plan_id] = PlanState(plan_id, plan, config.faults, sink=config.sink, now=self.clock())

    def plan(self, plan_id: str) -> PlanState | None:
        state = self.plans.get(plan_id)
        if state is None and self.config.open_plans:
            state = PlanState(plan_id, self.config.open_plan, self.config.faults,
                              sink=self.config.sink, now=self.clock())
            self.plans[plan_id] = state
        return state

    def new_id(self, kind: str = "X") -> str:
        """A 26-character id like Sinch's; ``kind`` tells batches (X), groups (G), inbounds (M) apart."""
        self._next_id += 1
        return f"01SB{kind}{self._next_id:021d}"

    def wall(self, t: float) -> float:
        """The wall-clock (epoch) time of sandbox clock time ``t``."""
        return self.clock.wall(t)

    def stats(self, with_numbers: bool = False) -> dict[str, Any]:
        cb = self.callbacks
        callbacks = {k: getattr(cb, k) for k in CallbackStats.__dataclass_fields__}
        callbacks["pending"] = cb.pending
        return {"plans": {pid: p.snapshot(with_numbers) for pid, p in self.plans.items()},
                "callbacks": callbacks}
