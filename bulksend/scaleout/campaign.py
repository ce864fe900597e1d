"""``send --broker`` and ``resume --broker``: a journaled campaign sent by workers.

The campaign goes through ``campaigns.service``'s entry points and
``campaigns.runner.JournaledRun``'s steps like a local one (the same checks,
staging, reconcile), through two hooks: the engine is a ``BrokerEngine``, and
before the reconcile, what Redis still holds of the campaign is sorted out
(``_held_elsewhere``; see ``submit``'s docstring): those batches are waited
for, not asked about.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from bulksend.campaigns.journal_ledger import recipients_of
from bulksend.campaigns.runner import (
    JournaledRun,
    JournalSummary,
    OnEvent,
    OnStart,
    RunOptions,
)
from bulksend.campaigns.service import resume_campaign, send_journaled
from bulksend.config import Config
from bulksend.engine import CampaignSpec, Engine
from bulksend.engine.campaign import EXIT_OK
from bulksend.journal import store
from bulksend.journal.records import BatchState, CampaignState
from bulksend.journal.settings import JournalSettings
from bulksend.models import Batch
from bulksend.scaleout.broker import Broker, through_outages
from bulksend.scaleout.codec import Keys, decode_report
from bulksend.scaleout.submit import WINDOW, BrokerEngine


class BrokerRun(JournaledRun):
    """One go at one campaign, its batches sent by workers through Redis."""

    def __init__(self, *args: Any, broker: Broker, window: int, detach: bool) -> None:
        super().__init__(*args)
        self.broker = broker
        self.window = window
        self.detach = detach

    def _engine(self) -> Engine:
        return BrokerEngine(self.config, self.broker, env=self.env, window=self.window, detach=self.detach)

    async def _held_elsewhere(self, engine: Engine) -> frozenset[int]:
        assert isinstance(engine, BrokerEngine)
        engine.epoch = self.epoch
        await through_outages(lambda: self.broker.claim(self.campaign.name, self.epoch))
        engine.held = await self._sort_in_flight()
        engine.on_held_skipped = self._return_held
        return frozenset(engine.held)

    @property
    def epoch(self) -> str:
        return f"{self.campaign.id}@{self.campaign.created_at:.6f}"

    async def _finished(self, result: JournalSummary) -> JournalSummary:
        name = self.campaign.name
        if result.state == CampaignState.DONE.value:
            await through_outages(lambda: self.broker.drop_campaign(name))
        elif self.detach and result.summary is not None and not result.summary.stopped_reason:
            n = result.counts.in_flight
            reason = (f"detached: {n:,} recipients with the workers; 'bulksend resume {name} --broker URL' "
                      "collects their outcomes")
            await self.journal.write(store.set_state, self.campaign.id, CampaignState.PAUSED, reason,
                                     self.journal.clock())
            result = replace(result, state=CampaignState.PAUSED.value, reason=reason,
                             exit_code=EXIT_OK if result.exit_code in (0, 1) and
                             not (result.counts.failed or result.counts.unknown) else result.exit_code)
        return result

    async def _sort_in_flight(self) -> dict[int, Batch]:
        """The batches the journal holds in flight that Redis still has (see ``submit``)."""
        c = self.campaign
        rows = await self.journal.read(store.batches_in, c.id, (BatchState.IN_FLIGHT,))
        if not rows:
            return {}
        known = await through_outages(lambda: self.broker.campaign(c.name))
        if known is None or known[0].epoch != self.epoch:  # Redis lost it, or never had it: reconcile them all
            return {}
        meta, hwm = known
        in_stream = await through_outages(lambda: self.broker.pending_of(meta.plan, c.name))
        answered = {decode_report(f).seq for _i, f in
                    await through_outages(lambda: self.broker.outcomes(c.name, "0", None, count=10**9))}
        held: dict[int, Batch] = {}
        for row in rows:
            if row.seq in in_stream or row.seq in answered:
                members = await self.journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
                if members:
                    held[row.seq] = Batch(c.name, row.seq, recipients_of(members))
            elif row.seq > hwm:  # never added to the stream: nothing of it was sent
                await self.journal.write(store.return_batch, c.id, row.seq, "not_submitted",
                                         "written in flight but never handed to the workers", self.journal.clock())
        if held:
            self.on_event(f"{len(held):,} batches are still with the workers; waiting for their outcomes")
        return held

    async def _return_held(self, batch: Batch) -> None:
        await self.journal.write(store.return_batch, self.campaign.id, batch.seq, "not_taken",
                                 "handed back by the workers unsent (the campaign stopped)", self.journal.clock())


async def send_via_broker(
    config: Config, spec: CampaignSpec, settings: JournalSettings, broker: str, *,
    options: RunOptions = RunOptions(), env: Mapping[str, str] | None = None, on_start: OnStart | None = None,
    on_event: OnEvent | None = None, handle_signals: bool = False, clock: Callable[[], float] = time.time,
    fresh: bool = False, window: int = WINDOW, detach: bool = False, keys: Keys = Keys(),
) -> JournalSummary:
    """``send_journaled`` (the same checks, the same journal) with its batches sent by
    ``bulksend worker`` processes through Redis."""
    redis = Broker.connect(broker, keys)

    async def claim_new(name: str) -> None:  # refuse a name another journal's campaign still uses
        await through_outages(lambda: redis.claim(name, None))

    try:
        return await send_journaled(
            config, spec, settings, options=options, env=env, on_start=on_start, on_event=on_event,
            handle_signals=handle_signals, clock=clock, fresh=fresh, on_new=claim_new,
            run=partial(BrokerRun, broker=redis, window=window, detach=detach))
    finally:
        await redis.close()


async def resume_via_broker(
    config: Config, name: str, settings: JournalSettings, broker: str, *, options: RunOptions = RunOptions(),
    plan: str | None = None, env: Mapping[str, str] | None = None, on_start: OnStart | None = None,
    on_event: OnEvent | None = None, handle_signals: bool = False, clock: Callable[[], float] = time.time,
    window: int = WINDOW, detach: bool = False, keys: Keys = Keys(),
) -> JournalSummary:
    """``resume_campaign`` through Redis: batches the workers still hold are waited for, not resent."""
    redis = Broker.connect(broker, keys)
    try:
        return await resume_campaign(
            config, name, settings, options=options, plan=plan, env=env, on_start=on_start, on_event=on_event,
            handle_signals=handle_signals, clock=clock,
            run=partial(BrokerRun, broker=redis, window=window, detach=detach))
    finally:
        await redis.close()
