"""The worker: takes any campaign's batches for its plans from Redis and sends them.

Theory of operation
-------------------
For each plan, a worker keeps ``plan.concurrency`` slots. A free slot asks
Redis for the plan's next entry with the ``TAKE`` script, which books the
entry's recipients on the plan's shared GCRA in the same round trip, so
all workers on all hosts share the rate and take entries in stream order.
The slot then waits what the booking said and sends the batch through the
engine's ``BatchSender`` (codecs, retries, reconcile of an ambiguous
answer); a resend books its recipients again (``BookedBucket``). The
outcome is published to the campaign's outcomes stream, and the entry
acknowledged and deleted, in one script (``FINISH``).

While it holds an entry the worker renews its lease (``RENEW``: XCLAIM
JUSTID, only while it still owns it). A worker that dies stops renewing;
after ``lease`` seconds another worker takes the entry over (``RECLAIM``:
XAUTOCLAIM) and first asks the provider whether it has the batch (by its
client_reference), believing "absent" only once the dead worker's request
must have timed out; only then is it sent. An entry delivered more than
``max_deliveries`` times goes to the plan's dead-letter stream and is
reported unknown.

SIGTERM drains: no new entries; those held get ``drain`` seconds to
finish; the rest are left pending, and so handed back after the lease.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bulksend.campaigns.reconcile import lookback_of, lookup_window
from bulksend.config import Config, PlanConfig
from bulksend.engine import CampaignRun, CampaignSpec, Engine, MemoryLedger
from bulksend.engine.plan import BatchSender, PlanRunner
from bulksend.engine.retry import Sleep
from bulksend.errors import CampaignRefused, Unreachable
from bulksend.models import Batch, BatchResult, Outcome, Status
from bulksend.scaleout.broker import Broker, Taken, through_outages
from bulksend.scaleout.codec import (
    REFUSED,
    RESULT,
    SKIPPED,
    STOP,
    CampaignMeta,
    Report,
    decode_batch,
)
from bulksend.scaleout.gcra import MICROS, Pace

META_TTL = 5.0  # seconds a campaign's message is cached (a resume may change it)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: seconds an entry stays a worker's without a renewal; then another takes it over
    lease: float = 10.0
    #: deliveries after which an entry goes to the dead-letter stream (reported unknown)
    max_deliveries: int = 5
    #: on SIGTERM, seconds held entries get to finish
    drain: float = 30.0
    #: the longest pause between looks at an empty stream
    poll: float = 0.05
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    @property
    def renew_every(self) -> float:
        return self.lease / 3


@dataclass(slots=True)
class WorkerStats:
    taken: int = 0
    reclaimed: int = 0
    finished: int = 0
    skipped: int = 0
    handed_back: int = 0
    requests: int = 0
    lookups: int = 0


class BookedBucket:
    """The engine's bucket for resends: books the recipients on the shared rate, waits."""

    def __init__(self, broker: Broker, plan: str, pace: Pace, sleep: Sleep) -> None:
        self.broker, self.plan, self.pace, self.sleep = broker, plan, pace, sleep

    async def spend(self, recipients: int) -> None:
        wait = await self.broker.book(self.plan, self.pace, recipients)
        if wait > 0:
            await self.sleep(wait / MICROS)


class PlanWorker:
    """One plan's share of a worker process."""

    def __init__(self, broker: Broker, runner: PlanRunner, options: WorkerOptions,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.broker = broker
        self.plan: PlanConfig = runner.plan
        self.provider = runner.provider
        self.options = options
        self.sleep = sleep
        self.pace = Pace(self.plan.rate, self.plan.burst)
        self.bucket = BookedBucket(broker, self.plan.name, self.pace, sleep)
        self.sender = BatchSender(self.plan, self.provider, runner.sender.transport,
                                  self.bucket, sleep)  # type: ignore[arg-type]
        self.calls = self.sender.calls
        self.stats = WorkerStats()
        self.draining = asyncio.Event()
        self._slots = asyncio.Semaphore(self.plan.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._meta: dict[str, tuple[float, CampaignMeta | None]] = {}
        #: the last booked waits (µs) by batch size, for the metrics
        self.waits: dict[int, deque[int]] = defaultdict(lambda: deque(maxlen=10_000))

    # -- the loops -------------------------------------------------------------------
    async def run(self) -> None:
        await through_outages(lambda: self.broker.ensure_group(self.plan.name), give_up_after=30)
        reclaimer = asyncio.create_task(self._reclaim_loop())
        try:
            await self._take_loop()
        finally:
            reclaimer.cancel()
            await asyncio.gather(reclaimer, return_exceptions=True)
        await self._drain()

    async def _take_loop(self) -> None:
        idle = 0.005
        while not self.draining.is_set():
            await self._slots.acquire()
            if self.draining.is_set():
                self._slots.release()
                return
            try:
                taken = await self.broker.take(self.plan.name, self.options.consumer, self.pace)
            except Exception as exc:  # Redis away (restarting): try again shortly
                self._slots.release()
                _log(f"plan {self.plan.name}: cannot take from Redis: {exc}")
                await self._pause(1.0)
                continue
            if taken is None:
                self._slots.release()
                await self._pause(idle)
                idle = min(idle * 2, self.options.poll)
                continue
            idle = 0.005
            self.stats.taken += 1
            self._spawn(taken)

    async def _reclaim_loop(self) -> None:
        lease_ms = int(self.options.lease * 1000)
        while True:
            await asyncio.sleep(self.options.lease / 2)
            try:
                got = await self.broker.reclaim(self.plan.name, self.options.consumer, lease_ms,
                                                self.options.max_deliveries)
            except Exception as exc:
                _log(f"plan {self.plan.name}: cannot reclaim from Redis: {exc}")
                continue
            for taken in got:
                await self._slots.acquire()
                self.stats.reclaimed += 1
                self._spawn(taken)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.draining.wait(), seconds)
        except TimeoutError:
            pass

    def _spawn(self, taken: Taken) -> None:
        task = asyncio.create_task(self._handle(taken))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _done, left = await asyncio.wait(set(self._tasks), timeout=self.options.drain)
        for task in left:
            task.cancel()
        self.stats.handed_back += len(left)
        await asyncio.gather(*left, return_exceptions=True)

    # -- one entry -------------------------------------------------------------------
    async def _handle(self, taken: Taken) -> None:
        lost = asyncio.Event()
        renewing = asyncio.create_task(self._renew(taken.id, lost))
        try:
            batch = decode_batch(taken.fields)
            meta = await self._campaign(batch.campaign)
            if meta is None or taken.wait_us == -1:
                report = Report(batch.seq, SKIPPED, reason="the campaign stopped")
                self.stats.skipped += 1
            else:
                self.waits[batch.size].append(max(0, taken.wait_us))
                if taken.wait_us > 0:
                    await self.sleep(taken.wait_us / MICROS)
                if lost.is_set():  # taken over while it waited (Redis was away too long): not ours to send
                    self.stats.handed_back += 1
                    return
                report = await self._deliver(batch, meta, reclaimed=taken.wait_us == -2, added=_added_at(taken.id))
            await through_outages(lambda: self.broker.finish(self.plan.name, batch.campaign, taken.id, report))
            self.stats.finished += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # left pending: another worker takes it over after the lease
            _log(f"plan {self.plan.name}: entry {taken.id} handed back: {type(exc).__name__}: {exc}")
        finally:
            renewing.cancel()
            self._slots.release()

    async def _renew(self, entry_id: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.options.renew_every)
            try:
                if not await self.broker.renew(self.plan.name, self.options.consumer, entry_id):
                    lost.set()  # taken over: this worker was thought dead; its outcome may still be first
                    return
            except Exception as exc:
                _log(f"plan {self.plan.name}: cannot renew the lease of {entry_id}: {exc}")

    async def _deliver(self, batch: Batch, meta: CampaignMeta, reclaimed: bool, added: float) -> Report:
        run = CampaignRun(CampaignSpec(meta.name, meta.plan, meta.message, resend_unknown=meta.resend_unknown),
                          MemoryLedger(), batch.size)
        stats = run.stats
        try:
            if reclaimed:
                found = await self._reconcile(batch, run, meta, added)
                if found is not None:
                    return self._report(batch, RESULT, run, found, 0)
                await self.bucket.spend(batch.size)
            result, attempts = await self.sender.deliver(batch, run)
        except CampaignRefused as exc:
            return self._report(batch, REFUSED, run, reason=str(exc))
        except Unreachable as exc:
            return self._report(batch, STOP, run, reason=f"{exc}; stopped sending, as the rest would fail "
                                                         "the same way (resumable)")
        finally:
            self.stats.requests += stats.requests
            self.stats.lookups += stats.lookups
        return self._report(batch, RESULT, run, result, attempts)

    def _report(self, batch: Batch, kind: str, run: CampaignRun, result: BatchResult | None = None,
                attempts: int = 0, reason: str = "") -> Report:
        s = run.stats
        return Report(batch.seq, kind, result, attempts, s.requests, s.retries, s.lookups, reason, tuple(run.errors))

    async def _reconcile(self, batch: Batch, run: CampaignRun, meta: CampaignMeta,
                         added: float) -> BatchResult | None:
        """A reclaimed batch: did the provider take it from the dead worker? None: send it.

        It is asked about from when the entry was added to the stream (no request of it
        left before), within the provider's look-back (``campaigns.reconcile.lookup_window``)."""
        window = lookup_window(added, time.time(), lookback_of(self.calls))
        if window is None:
            if meta.resend_unknown:
                return None
            return BatchResult(Outcome(Status.UNKNOWN, code="lookback", text=(
                "taken over from a worker that stopped, longer ago than the provider can list")))
        if self.provider.lookup_request(batch, window) is None:
            if meta.resend_unknown:
                return None
            return BatchResult(Outcome(Status.UNKNOWN, code="unreconciled", text=(
                "taken over from a worker that stopped; the provider cannot be asked whether it took it")))
        run.stats.lookups += 1
        found = await self.calls.lookup(batch, window)
        # The dead worker's request may have left just before it died and still be on its way:
        # "absent" is believed once the plan's timeout has passed since its last renewal.
        settle = self.plan.timeout + self.options.renew_every - self.options.lease
        if found is None and settle > 0:
            await self.sleep(settle)
            run.stats.lookups += 1
            found = await self.calls.lookup(batch, window)
        return BatchResult(found) if found is not None else None

    async def _campaign(self, name: str) -> CampaignMeta | None:
        now = time.monotonic()
        cached = self._meta.get(name)
        if cached is not None and now - cached[0] < META_TTL:
            return cached[1]
        got = await self.broker.campaign(name)
        meta = got[0] if got is not None else None
        self._meta[name] = (now, meta)
        return meta


async def run_worker(config: Config, broker_url: str, plans: Sequence[str] | None = None,
                     options: WorkerOptions = WorkerOptions(), *, stop: asyncio.Event | None = None,
                     metrics_port: int | None = None, ready: asyncio.Event | None = None,
                     announce: Callable[[str], None] | None = None) -> WorkerStats:
    """Work the plans (default: all of the config's) until ``stop`` is set, then drain.

    With ``metrics_port``, ``/metrics`` is served on 127.0.0.1 (``bulksend.metrics``;
    ``announce`` hears its URL) with the worker's figures added (``worker_metrics``).
    """
    from bulksend.metrics import serving
    from bulksend.scaleout.codec import Keys
    from bulksend.scaleout.worker_metrics import WorkerCollector

    names = list(plans or config.plans)
    for name in names:
        config.plan(name)  # a clear error for an unknown plan
    stop = stop or asyncio.Event()
    broker = Broker.connect(broker_url, Keys())
    total = WorkerStats()
    try:
        with serving(metrics_port, announce=announce) as served:
            async with Engine(config) as engine:  # the served Metrics is current: its transport is counted
                workers = [PlanWorker(broker, engine.plan_runner(n), options) for n in names]
                if served is not None:
                    served.metrics.registry.register(WorkerCollector(workers, broker))  # type: ignore[arg-type]
                tasks = [asyncio.create_task(w.run()) for w in workers]
                if ready is not None:
                    ready.set()
                await stop.wait()
                for w in workers:
                    w.draining.set()
                await asyncio.gather(*tasks)
                for w in workers:
                    for k in total.__slots__:  # type: ignore[attr-defined]
                        setattr(total, k, getattr(total, k) + getattr(w.stats, k))
    finally:
        await broker.close()
    return total


def _added_at(entry_id: str) -> float:
    """When a stream entry was added (its id's milliseconds, Redis server time), in seconds."""
    return int(entry_id.split("-", 1)[0]) / 1000.0


def _log(text: str) -> None:
    print(f"bulksend worker: {text}", file=sys.stderr, flush=True)
