"""The async runner: fires each batch at its intended time, never later on
purpose.

Theory of operation
-------------------
One scheduler coroutine walks the worker's share of the schedule. For each
batch it sleeps until the batch is due (re-checking the clock, because
event-loop timers are millisecond-grained), then *starts* the send as its
own task and moves on: it never waits for an earlier answer, so a slow
server cannot slow the generator down (no coordinated omission). When the
scheduler itself is behind, overdue batches go out at once and their
lateness is recorded; a send that finds ``max_in_flight`` requests already
out is not started at all and is counted as dropped. The run stops at its
duration whatever the rate: batches still to start when the time is up
(a rate the generator cannot keep, say 1e9/s) are counted as due and
dropped all at once, per second, never walked one by one.

Requests are built by the plan's real provider codec, sent by the engine's
``perform`` and classified by ``parse_send``: 2xx accepted, 429 and other
failures counted by status. With ``retries`` a batch answered 429, 5xx or
"cannot connect" is sent again after Retry-After (capped) or a short
backoff; ambiguous failures (timeouts) are never resent. With ``delivery``
a ``DeliveryReceiver`` on 127.0.0.1 takes the provider's per-recipient
reports until every accepted recipient has one or ``drain_timeout`` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from bulksend.engine.network import Network
from bulksend.engine.transport import open_session, perform
from bulksend.errors import AmbiguousOutcome, CampaignRefused, TransientError
from bulksend.loadtest.delivery import DeliveryReceiver, DeliveryTracker
from bulksend.loadtest.recorder import Recorder
from bulksend.loadtest.spec import GENERATED_BASE, GENERATED_SPAN, LoadSpec
from bulksend.metrics import UNCOUNTED
from bulksend.metrics import current as current_metrics
from bulksend.models import Batch, DeliveryReport, Message, Recipient, Status
from bulksend.providers import build_provider
from bulksend.providers.base import Provider

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: how far ahead of "now" a single-process run starts (set-up is done by then)
LEAD = 0.02
#: connections opened before the clock starts
WARM_CONNECTIONS = 4
#: overdue batches fired back to back before the scheduler lets answers in
YIELD_EVERY = 32
MAX_RETRY_WAIT = 5.0
#: the longest the scheduler sleeps before it looks at ``stop`` again
MAX_NAP = 0.25
INTERRUPTED = "interrupted: stopped early, the figures cover what was sent"


async def run_worker(
    spec: LoadSpec,
    *,
    worker: int = 0,
    workers: int = 1,
    start_at: float | None = None,
    env: dict[str, str] | None = None,
    clock: Clock = time.monotonic,
    stop: Callable[[], bool] | None = None,
    watch: Callable[[Recorder], None] | None = None,
) -> Recorder:
    """Run this worker's share of the schedule; ``start_at`` is on ``clock``.

    ``stop`` is asked between batches: once it says True no more batches are
    started, answers in flight are still awaited, and the recorder says why.
    ``watch`` is given the recorder once its start time is set (a live view).
    """
    provider = build_provider(spec.plan, env)
    recorder = Recorder(0.0, spec.profile.duration, spec.late_bound)
    metrics = current_metrics()  # --metrics-port: this process's figures, read when scraped
    if metrics is not None:
        metrics.watch(RecorderStats(recorder))
        metrics.watch_delivery(recorder.delivery)
    tracker = DeliveryTracker(recorder) if spec.delivery else None
    async with contextlib.AsyncExitStack() as stack:
        message = spec.message
        if tracker is not None:
            receiver = await stack.enter_async_context(DeliveryReceiver(tracker, clock))
            message = replace(message, callback_url=receiver.url,
                              delivery_report=DeliveryReport.PER_RECIPIENT)
        route = Network(os.environ if env is None else env).route(spec.plan)  # the engine's TLS and proxy rules
        session = await stack.enter_async_context(open_session(
            spec.max_in_flight, "bulksend-loadtest/0.1", ssl_context=route.ssl,
            trace_configs=[metrics.trace_config()] if metrics is not None else None))
        per_request = route.request_kwargs() if route.proxy else {}  # its TLS context is the session's
        await warm_up(session, spec, per_request)
        runner = _Runner(spec, provider, session, recorder, message, clock, tracker, stop)
        runner.route = per_request
        gc.collect()
        gc.freeze()  # what exists now is never garbage: keep collections short during the run
        recorder.start = start_at if start_at is not None else clock() + LEAD
        if watch is not None:
            watch(recorder)
        try:
            await runner.run(worker, workers)
        finally:
            gc.unfreeze()
        if tracker is not None:
            await _drain(tracker, spec.drain_timeout, clock, stop)
            tracker.finish()
    return recorder


class RecorderStats:
    """A recorder's totals under ``CampaignStats``' names, for ``bulksend.metrics``."""

    __slots__ = ("_rec",)
    invalid = duplicates = excluded = unknown = 0

    def __init__(self, recorder: Recorder) -> None:
        self._rec = recorder

    @property
    def sent(self) -> int:
        return self._rec.totals.accepted

    @property
    def failed(self) -> int:
        return self._rec.totals.failed

    @property
    def not_sent(self) -> int:
        return self._rec.totals.dropped

    @property
    def batches(self) -> int:
        return self._rec.totals.batches_sent

    @property
    def retries(self) -> int:
        return self._rec.totals.retries


async def warm_up(session: aiohttp.ClientSession, spec: LoadSpec, route: dict[str, Any] | None = None) -> None:
    """Open a few connections (and TLS sessions) before the clock starts, so
    the first batches are not charged for them: GETs of the plan's base URL,
    which send no message; whatever they answer is ignored."""
    timeout = aiohttp.ClientTimeout(total=min(5.0, spec.request_timeout))

    async def one() -> None:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            async with session.get(spec.plan.base_url + "/", timeout=timeout, allow_redirects=False,
                                   trace_request_ctx=UNCOUNTED, **(route or {})) as resp:
                await resp.read()

    await asyncio.gather(*(one() for _ in range(min(WARM_CONNECTIONS, spec.max_in_flight))))


async def _drain(tracker: DeliveryTracker, timeout: float, clock: Clock,
                 stop: Callable[[], bool] | None) -> None:
    deadline = clock() + timeout
    while tracker.outstanding > 0 and clock() < deadline and not (stop is not None and stop()):
        await asyncio.sleep(0.02)


class _Runner:
    __slots__ = ("spec", "provider", "session", "recorder", "message", "clock", "tracker", "stop",
                 "timeout", "parts", "in_flight", "tasks", "route")

    def __init__(self, spec: LoadSpec, provider: Provider, session: aiohttp.ClientSession,
                 recorder: Recorder, message: Message, clock: Clock,
                 tracker: DeliveryTracker | None, stop: Callable[[], bool] | None = None) -> None:
        self.spec = spec
        self.provider = provider
        self.session = session
        self.recorder = recorder
        self.message = message
        self.clock = clock
        self.tracker = tracker
        self.stop = stop
        self.timeout = aiohttp.ClientTimeout(total=spec.request_timeout)
        self.parts = spec.parts_per_message
        self.in_flight = 0
        self.tasks: set[asyncio.Task[None]] = set()
        #: the plan's TLS context and proxy (``bulksend.engine.network.Route``)
        self.route: dict[str, Any] = {}

    async def run(self, worker: int, workers: int) -> None:
        schedule = self.spec.schedule
        start, clock = self.recorder.start, self.clock
        end = start + schedule.profile.duration
        back_to_back = 0
        for k in schedule.owned_by(worker, workers):
            due = start + schedule.due(k)
            now = clock()
            if now < due:
                while now < due and not self._stopping():  # timers are ms-grained: look again
                    await asyncio.sleep(min(due - now, MAX_NAP))
                    now = clock()
                back_to_back = 0
            elif now >= end:  # time is up: what is left was due, and is not sent
                self.recorder.dropped_at_end(schedule.owned_per_second(worker, workers, k), self.spec.batch_size)
                break
            else:
                back_to_back += 1
                if back_to_back >= YIELD_EVERY:
                    back_to_back = 0
                    await asyncio.sleep(0)
            if self._stopping():
                self.recorder.stopped_early(clock())
                break
            self._fire(k, due)
        if self.tasks:
            await asyncio.gather(*list(self.tasks))

    def _stopping(self) -> bool:
        if not self.recorder.stopped and self.stop is not None and self.stop():
            self.recorder.stopped = INTERRUPTED
        return bool(self.recorder.stopped)

    def _fire(self, k: int, due: float) -> None:
        size = self.spec.batch_size
        self.recorder.due(due, size)
        if self.in_flight >= self.spec.max_in_flight:
            self.recorder.dropped(due, size)
            return
        self.in_flight += 1
        task = asyncio.create_task(self._send(self._batch(k), due))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _batch(self, k: int) -> Batch:
        size, numbers = self.spec.batch_size, self.spec.recipients
        first = k * size
        if numbers:
            picked = [numbers[(first + j) % len(numbers)] for j in range(size)]
        else:
            picked = [str(GENERATED_BASE + (first + j) % GENERATED_SPAN) for j in range(size)]
        return Batch(self.spec.campaign, k, tuple(Recipient(n) for n in picked))

    async def _send(self, batch: Batch, due: float) -> None:
        try:
            await self._attempts(batch, due)
        finally:
            self.in_flight -= 1

    async def _attempts(self, batch: Batch, due: float) -> None:
        rec, size = self.recorder, batch.size
        parts = self.parts * size
        request = self.provider.send_request(batch, self.message)
        sent_at = self.clock()
        rec.started(due, sent_at, size, parts)
        attempt = 0
        while True:
            retry_after: float | None = None
            retryable = False
            try:
                response = await perform(self.session, request, self.timeout, **self.route)
            except TransientError as exc:  # nothing was sent: safe to resend
                rec.attempt(sent_at, self.clock(), exc.code or "connect", parts)
                retryable = True
            except AmbiguousOutcome as exc:  # may have been taken: never resent
                rec.attempt(sent_at, self.clock(), exc.code or "ambiguous", parts)
            except CampaignRefused as exc:  # a certificate not verified, a proxy refusing the tunnel
                rec.attempt(sent_at, self.clock(), exc.code or "refused", parts)
                rec.stopped = rec.stopped or f"the test was refused: {exc}"
            else:
                done = self.clock()
                rec.attempt(sent_at, done, str(response.status), parts)
                try:
                    result = self.provider.parse_send(batch, response)
                except CampaignRefused as exc:
                    rec.stopped = rec.stopped or f"the provider refused the test: {exc}"
                except TransientError as exc:  # 429, 5xx
                    retry_after, retryable = exc.retry_after, True
                else:
                    accepted = sum(1 for r in batch.recipients
                                   if result.outcome_for(r.msisdn).status is Status.ACCEPTED)
                    rec.finished(due, done, accepted, size - accepted)
                    if accepted and self.tracker is not None and result.outcome.provider_id:
                        self.tracker.batch_accepted(result.outcome.provider_id, done, accepted)
                    return
            if not retryable or attempt >= self.spec.retries or rec.stopped:
                rec.finished(due, self.clock(), 0, size)
                return
            attempt += 1
            rec.retried()
            await asyncio.sleep(_retry_wait(retry_after, attempt))
            sent_at = self.clock()


def _retry_wait(retry_after: float | None, attempt: int) -> float:
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_WAIT)
    return min(0.05 * 2.0 ** (attempt - 1), 2.0)
