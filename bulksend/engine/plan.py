"""One service plan at run time: its FIFO queue, its pacer, its workers.

Theory of operation
-------------------
Campaign producers put batches on the plan's bounded queue. A producer holds
the plan's ``feed_lock`` (a FIFO lock) while it feeds, so campaigns on one
plan are served in the order they were submitted. The single **pacer** takes
batches off the queue strictly in order; for each it first waits for a free
worker slot, then spends one token per recipient from the plan's bucket, and
only then starts the request. Taking the slot first means the request leaves
the moment its tokens are spent, so requests reach the provider spaced the
way the bucket spaced them.

A worker sends the batch once; if that fails in a retryable way it enters
the tenacity loop, spending the batch's tokens again before every resend.
A batch that runs out of tries fails, unless its fate is still ambiguous
(then it is unknown) or the last try could not even connect: then nothing
of it was taken, and the campaign stops (resumable) instead of failing the
rest of the list one batch at a time.
An ambiguous failure (the request may have been accepted) is reconciled
first: the provider is asked whether it holds the batch's
``client_reference``; only if it does not, and the plan's ``timeout`` has
passed since the request left, is the batch sent again. A
provider that cannot be asked leaves the batch ``unknown``.

Every request leaves through the engine's ``Transport`` (``transport.py``):
sends here, lookups through ``ProviderCalls`` (``calls.py``), so a test can
put a ``MockTransport`` in place of the network.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from bulksend.config import PlanConfig
from bulksend.core.limits import auto_concurrency
from bulksend.engine.bucket import RecipientBucket
from bulksend.engine.campaign import RetryWait
from bulksend.engine.slots import Slots
from bulksend.engine.calls import ProviderCalls
from bulksend.engine.retry import Sleep, retrying
from bulksend.engine.transport import Transport
from bulksend.errors import (
    AmbiguousOutcome,
    CampaignRefused,
    ProviderError,
    TransientError,
    Unreachable,
)
from bulksend.models import Batch, BatchResult, HttpRequest, Outcome, Status
from bulksend.providers.base import Provider

if TYPE_CHECKING:
    from bulksend.engine.campaign import CampaignRun


@dataclass(slots=True)
class _Attempts:
    count: int = 0
    ambiguous: bool = False
    #: when the ambiguous request left (the loop's clock)
    left_at: float = 0.0


class BatchSender:
    """Sends one batch to completion: attempts, retries, reconciliation."""

    def __init__(
        self, plan: PlanConfig, provider: Provider, transport: Transport,
        bucket: RecipientBucket, sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.plan = plan
        self.provider = provider
        self.transport = transport
        #: lookups (and, for the journal, cancels) go through the same transport
        self.calls = ProviderCalls(provider, transport, plan, sleep)
        self.bucket = bucket
        self.sleep = sleep
        #: the loop's clock (an attribute, so a test can set another)
        self.clock: Callable[[], float] = asyncio.get_running_loop().time
        self.timeout = aiohttp.ClientTimeout(total=plan.timeout)
        #: seconds a request takes to be answered, a moving mean (None before the first answer)
        self.latency: float | None = None
        #: called with a batch's size after each answer (``concurrency = "auto"`` resizes there)
        self.on_answer: Callable[[int], None] | None = None

    async def deliver(self, batch: Batch, run: CampaignRun) -> tuple[BatchResult, int]:
        """The batch's result and how many send attempts it took."""
        state = _Attempts()
        run.stats.batches += 1
        try:
            return await self._attempt(batch, run, state), state.count
        except (TransientError, AmbiguousOutcome) as first:
            _failed(run, first)
            try:
                return await self._retry(batch, run, state, first), state.count
            except TransientError as exc:
                if state.ambiguous:  # its lookups failed too: it may still have been taken
                    return _gave_up(exc, Status.UNKNOWN), state.count
                if isinstance(exc, Unreachable):
                    raise  # the provider is out of reach: the campaign stops (PlanRunner._work)
                return _gave_up(exc, Status.FAILED), state.count
            except AmbiguousOutcome as exc:
                return _gave_up(exc, Status.UNKNOWN), state.count

    async def _retry(
        self, batch: Batch, run: CampaignRun, state: _Attempts, first: Exception
    ) -> BatchResult:
        replay: Exception | None = first
        policy = self.plan.retry

        async def sleep(delay: float) -> None:  # what the progress line shows while it waits
            run.stats.retry = RetryWait(state.count + 1, policy.attempts, time.monotonic() + delay)
            await self.sleep(delay)

        async for attempt in retrying(policy, sleep=sleep):
            with attempt:
                if replay is not None:
                    exc, replay = replay, None
                    raise exc
                try:
                    return await self._attempt(batch, run, state)
                except (TransientError, AmbiguousOutcome) as exc:
                    _failed(run, exc)
                    raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _attempt(self, batch: Batch, run: CampaignRun, state: _Attempts) -> BatchResult:
        if state.ambiguous:
            found = await self._reconcile(batch, run, state)
            if found is not None:
                return found
            state.ambiguous = False
        if state.count:
            await self.bucket.spend(batch.size)  # a resend costs its tokens again
            run.stats.retries += 1  # a request sent again (one settled by a lookup is not)
        state.count += 1
        run.stats.requests += 1
        request = self.provider.send_request(batch, run.spec.message)
        stats = run.stats
        left_at = self.clock()
        stats.in_flight += batch.size
        try:
            response = await self.transport.send(request, self.timeout)
        except AmbiguousOutcome:
            state.ambiguous = True
            state.left_at = left_at
            raise
        finally:
            stats.in_flight -= batch.size
        took = self.clock() - left_at
        stats.answered += 1
        stats.latency_total += took
        self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
        if self.on_answer is not None:
            self.on_answer(batch.size)
        result = self.provider.parse_send(batch, response)
        stats.problem, stats.retry = "", None
        return result

    async def _reconcile(self, batch: Batch, run: CampaignRun, state: _Attempts) -> BatchResult | None:
        """Ask the provider whether it took the batch; None means send again.

        "Found" settles it at once. "Absent" is believed only once the plan's
        ``timeout`` has passed since the request left: a connection can break
        while the provider is still working on the request, and it may yet
        take the batch. Until then bulksend waits and asks once more, as
        ``resume`` does after a crash.
        """
        lookup = self.provider.lookup_request(batch)
        if lookup is None:
            if run.spec.resend_unknown:
                return None
            return BatchResult(Outcome(Status.UNKNOWN, code="ambiguous",
                                       text="the provider may have accepted it and cannot be asked"))
        found = await self._look_up(batch, run, lookup)
        early = state.left_at + self.plan.timeout - self.clock()
        if found is None and early > 0:
            await self.sleep(early)
            found = await self._look_up(batch, run, lookup)
        return BatchResult(found) if found is not None else None

    async def _look_up(self, batch: Batch, run: CampaignRun, lookup: HttpRequest) -> Outcome | None:
        run.stats.lookups += 1
        return self.provider.parse_lookup(batch, await self.calls.once(lookup))


def _failed(run: CampaignRun, exc: ProviderError) -> None:
    """A try failed: keep its text (the last errors, and why the progress line is stuck)."""
    run.note_error(exc)
    stats = run.stats
    if exc.status == 429:
        stats.rate_limited += 1
    if isinstance(exc, Unreachable):
        # the socket's own words ("connection refused") when the network error is at hand
        errno = getattr(getattr(exc.__context__, "os_error", None), "errno", None)
        stats.problem = f"provider unreachable: {os.strerror(errno).lower() if errno else exc}"
    else:
        stats.problem = f"answered {exc.status}: {exc}" if exc.status else str(exc)


def _gave_up(exc: TransientError | AmbiguousOutcome, status: Status) -> BatchResult:
    code = exc.code or (str(exc.status) if exc.status else "transient")
    return BatchResult(Outcome(status, code=code, text=str(exc)))


class PlanRunner:
    """The queue, bucket, pacer and worker pool of one service plan."""

    def __init__(self, plan: PlanConfig, provider: Provider, transport: Transport,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.plan = plan
        self.provider = provider
        self.bucket = RecipientBucket(plan.rate, plan.burst)
        self.sender = BatchSender(plan, provider, transport, self.bucket, sleep)
        # Bounded: a producer can be at most a few batches ahead of the pacer.
        self.queue: asyncio.Queue[tuple[Batch, CampaignRun]] = asyncio.Queue(
            maxsize=max(4, 2 * plan.concurrency))
        self.feed_lock = asyncio.Lock()
        self._slots = Slots(plan.concurrency)
        if plan.auto_concurrency:
            self.sender.on_answer = self._resize
        self._workers: set[asyncio.Task[None]] = set()
        self._pacer: asyncio.Task[None] | None = None

    @property
    def concurrency(self) -> int:
        """Requests in flight at most, now (``concurrency = "auto"`` changes it as latency is measured)."""
        return self._slots.limit

    def _resize(self, batch: int) -> None:
        """``concurrency = "auto"``: Little's law from the plan's rate and the measured latency."""
        plan = self.plan
        self._slots.resize(auto_concurrency(plan.rate, batch, self.sender.latency, plan.max_concurrency,
                                            self._slots.limit))

    @property
    def calls(self) -> ProviderCalls:
        """Lookups and cancels for this plan, over the engine's transport."""
        return self.sender.calls

    def start(self) -> None:
        if self._pacer is None:
            self._pacer = asyncio.create_task(self._pace(), name=f"pacer:{self.plan.name}")

    async def close(self) -> None:
        if self._pacer is not None:
            self._pacer.cancel()
            await asyncio.gather(self._pacer, return_exceptions=True)
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    async def _pace(self) -> None:
        while True:
            batch, run = await self.queue.get()
            if run.stopping:
                run.skipped(batch)
                continue
            await self._slots.acquire()
            await self.bucket.spend(batch.size)
            if run.stopping:  # stopped while waiting for a slot or tokens: send nothing more
                self._slots.release()
                run.skipped(batch)
                continue
            run.concurrency = self._slots.limit
            worker = asyncio.create_task(self._work(batch, run))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
            run.track(worker)

    async def _work(self, batch: Batch, run: CampaignRun) -> None:
        try:
            await run.before_send(batch)
            result, attempts = await self.sender.deliver(batch, run)
        except CampaignRefused as exc:
            self._slots.release()
            run.refuse(exc)
            run.skipped(batch)
            return
        except Unreachable as exc:  # every try failed to connect: nothing of it was sent
            self._slots.release()
            run.stop(f"{exc}; stopped sending, as the rest would fail the same way (resumable)")
            run.skipped(batch)
            return
        except BaseException as exc:
            self._slots.release()
            run.crash(exc)
            run.abandoned(batch)  # the request may have left: not "skipped"
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._slots.release()
        await run.after_send(batch, result, attempts)
