"""The submitter: a journaled campaign whose batches are sent by workers through Redis.

Theory of operation
-------------------
Intake stays where it is: the journal reads, screens, de-duplicates and
stages the list, and cuts it into batches exactly as for a local send
(``JournalLedger``). ``BrokerEngine`` replaces only the engine's plan
queue: each batch is written in flight in the journal, then added to the
plan's stream together with the campaign's high-water mark (``SUBMIT``,
one script), and the producer waits while the stream holds more than
``window`` entries, so Redis holds a window of the campaign, not its list.
A reader follows the campaign's outcomes stream and hands each outcome to
the run as the local engine would (``after_send``, ``skipped``...), so
progress, summary, ``--results`` and exit codes are a local send's.

When the run stops (Ctrl-C, auto-pause, refusal) the campaign's ``stop``
flag tells the workers to hand back its entries unsent (SKIPPED), and they
go back to pending in the journal.

Resuming (``BrokerRun._held_elsewhere``, before the reconcile): the
batches the journal holds in flight are sorted by what Redis knows. Still in the plan's stream, or answered on the
outcomes stream: they are waited for, not sent again. Above the
high-water mark: never added, so back to pending at once. Anything else
(Redis lost it): reconciled with the provider first, as after a local
crash.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from bulksend.config import Config
from bulksend.engine import CampaignRun, Engine
from bulksend.engine.plan import PlanRunner
from bulksend.errors import CampaignRefused
from bulksend.models import Batch
from bulksend.scaleout.broker import Broker, through_outages
from bulksend.scaleout.codec import (
    REFUSED,
    RESULT,
    SKIPPED,
    STOP,
    CampaignMeta,
    Report,
    decode_report,
    encode_batch,
)

#: batches the plan's stream may hold before a submitter waits
WINDOW = 256
#: seconds an outcome is kept after it was read: by then the journal has written it
#: (were it lost anyway, the batch is in flight in the journal and resume asks the provider)
KEEP_OUTCOMES = 30.0

BatchSource = Callable[[CampaignRun], AsyncIterator[Batch]]


class BrokerEngine(Engine):
    """An ``Engine`` whose plans' queues are Redis streams, sent from by workers."""

    def __init__(self, config: Config, broker: Broker, *, env: Mapping[str, str] | None = None,
                 window: int = WINDOW, detach: bool = False) -> None:
        super().__init__(config, env=env)
        self.broker = broker
        self.window = window
        self.detach = detach
        #: batches already in Redis (a resume): waited for, never added again
        self.held: dict[int, Batch] = {}
        #: which campaign of its name this is (see ``CampaignMeta.epoch``)
        self.epoch = ""
        #: called for a held batch its workers handed back unsent (it goes back to pending)
        self.on_held_skipped: Callable[[Batch], Any] | None = None

    async def _feed(self, runner: PlanRunner, run: CampaignRun, batches: BatchSource | None) -> None:
        await _Feed(self, runner.plan.name, run).go(batches)


class _Feed:
    """One campaign's batches into its plan's stream, its outcomes back into its run."""

    def __init__(self, engine: BrokerEngine, plan: str, run: CampaignRun) -> None:
        self.engine = engine
        self.broker = engine.broker
        self.plan = plan
        self.run = run
        self.name = run.spec.name
        self.waiting: dict[int, asyncio.Future[Report]] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.backlog = 0
        self.detached = False

    async def go(self, batches: BatchSource | None) -> None:
        run = self.run
        spec = run.spec
        meta = CampaignMeta(spec.name, self.plan, spec.message, spec.resend_unknown, self.engine.epoch)
        try:
            await through_outages(lambda: self.broker.open_campaign(meta))
        except Exception as exc:  # the run must still end: crashed, with nothing produced
            run.crash(exc)
            await run.produce(self._put, _nothing())
            return
        reader = asyncio.create_task(self._read(), name=f"outcomes:{self.name}")
        try:
            await run.produce(self._put, self._with_held(batches(run) if batches else None))
            if self.engine.detach and not run.stopping:
                self._detach()
            await run.wait()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _with_held(self, batches: AsyncIterator[Batch] | None) -> AsyncIterator[Batch]:
        for seq in sorted(self.engine.held):
            yield self.engine.held[seq]
        if batches is None:  # only a journal's source is used here (send --broker needs the journal)
            return
        async for batch in batches:
            yield batch

    # -- submitting ------------------------------------------------------------------
    async def _put(self, item: tuple[Batch, CampaignRun]) -> None:
        batch, run = item
        held = batch.seq in self.engine.held
        future: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self.waiting[batch.seq] = future
        task = asyncio.create_task(self._settle(batch, future, held))
        self.tasks[batch.seq] = task
        run.track(task)
        if held:
            return
        try:
            await run.before_send(batch)  # in flight in the journal before it can be sent
            fields = encode_batch(batch)
            await self._make_room()
            self.backlog = await through_outages(
                lambda: self.broker.submit(self.plan, self.name, batch.seq, fields), on_retry=_note_outage)
        except BaseException:
            self.waiting.pop(batch.seq, None)
            task.cancel()
            raise

    async def _make_room(self) -> None:
        """Flow control: wait while the plan's stream holds more than the window."""
        pause = 0.005
        while self.backlog > self.engine.window and not self.run.stopping:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
            self.backlog = await through_outages(lambda: self.broker.backlog(self.plan))

    def _detach(self) -> None:
        """``--detach``: everything is in Redis; stop waiting for outcomes (resume collects them)."""
        self.detached = True
        for task in list(self.tasks.values()):
            task.cancel()

    # -- outcomes --------------------------------------------------------------------
    async def _read(self) -> None:
        after, told = "0", False  # from the start: outcomes published while no submitter ran come first
        read: deque[tuple[float, str]] = deque()  # (when, up to which id) outcomes were read
        while True:
            try:
                now = time.monotonic()
                if read and read[0][0] < now - KEEP_OUTCOMES:
                    while len(read) > 1 and read[1][0] < now - KEEP_OUTCOMES:
                        read.popleft()
                    await self.broker.forget_outcomes(self.name, read.popleft()[1])
                if self.run.stopping and not told:
                    await self.broker.stop_campaign(self.name)
                    told = True
                rows = await self.broker.outcomes(self.name, after, block_ms=200)
            except Exception as exc:  # Redis away (restarting): the run waits, as the workers do
                _note_outage(exc)
                await asyncio.sleep(0.5)
                continue
            if rows:
                read.append((time.monotonic(), rows[-1][0]))
            for entry_id, fields in rows:
                after = entry_id
                try:
                    report = decode_report(fields)
                except (KeyError, ValueError) as exc:
                    self.run.errors.append(f"an outcome that cannot be read ({entry_id}): {exc}")
                    continue
                future = self.waiting.pop(report.seq, None)
                if future is not None and not future.done():
                    future.set_result(report)

    async def _settle(self, batch: Batch, future: asyncio.Future[Report], held: bool) -> None:
        run = self.run
        try:
            report = await future
        except asyncio.CancelledError:
            self.tasks.pop(batch.seq, None)
            if self.detached:  # with the workers still: in flight in the journal, collected on resume
                run.handed_off(batch)
            else:  # stopped waiting (a second Ctrl-C): in flight in the journal, resume finds it
                run.abandoned(batch)
            raise
        self.tasks.pop(batch.seq, None)
        s = run.stats
        s.requests += report.requests
        s.retries += report.retries
        s.lookups += report.lookups
        run.errors.extend(report.errors)
        if report.kind == RESULT and report.result is not None:
            await run.after_send(batch, report.result, report.attempts)
            return
        if report.kind == REFUSED:
            run.refuse(CampaignRefused(report.reason))
        elif report.kind == STOP:
            run.stop(report.reason)
        elif report.kind != SKIPPED:
            run.errors.append(f"batch {batch.seq}: unknown report {report.kind!r}")
        if held and self.engine.on_held_skipped is not None:
            await self.engine.on_held_skipped(batch)
        run.skipped(batch)


async def _nothing() -> AsyncIterator[Batch]:
    return
    yield  # an async generator that yields nothing


def _note_outage(exc: Exception) -> None:
    print(f"bulksend: Redis out of reach ({type(exc).__name__}); trying again", file=sys.stderr, flush=True)
