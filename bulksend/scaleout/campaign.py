"""``send --broker`` and ``resume --broker``: a journaled campaign sent by workers.

The entry points mirror ``campaigns.service.send_journaled`` and
``resume_campaign``; the run mirrors ``campaigns.runner.JournaledRun.go``
with two differences: the engine is a ``BrokerEngine``, and before the
reconcile, what Redis still holds of the campaign is sorted out
(``_sort_in_flight``; see ``submit``'s docstring).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from bulksend.campaigns.journal_ledger import recipients_of
from bulksend.campaigns.reconcile import ProviderCalls, reconcile
from bulksend.campaigns.runner import (
    JournaledRun,
    JournalSummary,
    OnEvent,
    OnStart,
    RunOptions,
)
from bulksend.campaigns.schedule import normalized, start_time
from bulksend.campaigns.service import (
    _may_go_on,
    _open,
    _source,
    _unused_name,
    target_of,
)
from bulksend.campaigns.signals import StopSignals
from bulksend.config import Config
from bulksend.engine import CampaignSpec
from bulksend.engine.campaign import EXIT_OK, EXIT_RESUMABLE
from bulksend.errors import CampaignRefused, TransientError
from bulksend.journal.journal import Journal
from bulksend.journal.records import BatchRow, BatchState, CampaignRecord, CampaignState
from bulksend.journal.settings import JournalSettings
from bulksend.models import Batch
from bulksend.providers import build_provider
from bulksend.scaleout.broker import Broker, through_outages
from bulksend.scaleout.codec import Keys, decode_report
from bulksend.scaleout.submit import WINDOW, BrokerEngine


class _Hiding:
    """The journal, with the batches Redis still holds left out of ``batches_in``:
    the reconcile must not ask the provider about a batch a worker may yet send."""

    def __init__(self, journal: Journal, hidden: set[int]) -> None:
        self._journal = journal
        self._hidden = hidden

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    async def batches_in(self, cid: int, states: Any) -> list[BatchRow]:
        rows = await self._journal.batches_in(cid, states)
        return [r for r in rows if r.seq not in self._hidden]


class BrokerRun(JournaledRun):
    """One go at one campaign, its batches sent by workers through Redis."""

    def __init__(self, *args: Any, broker: Broker, window: int, detach: bool) -> None:
        super().__init__(*args)
        self.broker = broker
        self.window = window
        self.detach = detach

    async def go(self) -> JournalSummary:  # mirrors JournaledRun.go
        plan = self.config.plan(self.campaign.target.plan)
        if self.campaign.start_at is not None and self.clock() < self.campaign.start_at:
            if not self.campaign.staged and not await self._stage(plan):
                return await self._paused(self.signals.reason or "stopped while staging", EXIT_RESUMABLE)
            if not await self._hold():
                return await self._ended(CampaignState.SCHEDULED, self.signals.reason, EXIT_RESUMABLE)
        engine = BrokerEngine(self.config, self.broker, env=self.env, window=self.window, detach=self.detach)
        async with engine:
            runner = engine.plan_runner(plan.name)
            await self.journal.set_state(self.campaign.id, CampaignState.RUNNING)
            calls = ProviderCalls(runner.provider, runner.sender.session, runner.plan, engine.sleep)
            engine.epoch = self.epoch
            await through_outages(lambda: self.broker.claim(self.campaign.name, self.epoch))
            engine.held = await self._sort_in_flight()
            engine.on_held_skipped = self._return_held
            if not await self._settle_down_unheld(runner.plan, set(engine.held)):
                return await self._paused(self.signals.reason, EXIT_RESUMABLE)
            try:
                hiding: Any = _Hiding(self.journal, set(engine.held))
                self.reconciled = await reconcile(hiding, self.campaign, calls, self.options.resend_unknown)
            except TransientError as exc:
                return await self._paused(f"cannot reconcile with the provider: {exc}", EXIT_RESUMABLE)
            except CampaignRefused as exc:
                return await self._paused(str(exc), 3)
            if self.reconciled.batches or self.reconciled.returned:
                self.on_event(self._reconciled_text())
            if self.options.retry_failed:
                again = await self.journal.return_failed(self.campaign.id)
                self.on_event(f"{again:,} failed recipients will be sent again")
            if self.signals.requested.is_set():
                return await self._paused(self.signals.reason, EXIT_RESUMABLE)
            counts = await self.journal.counts(self.campaign.id)
            if counts.pending == 0 and self.campaign.staged and not engine.held:
                self.on_event(f"nothing left to send in campaign {self.campaign.name}")
                await through_outages(lambda: self.broker.drop_campaign(self.campaign.name))
                return await self._ended(CampaignState.DONE, "", _exit_for(counts.failed + counts.unknown))
            stager = None if self.campaign.staged else await self._stager(plan)
            result = await self._send(engine, counts, stager)
        return await self._after(result)

    @property
    def epoch(self) -> str:
        return f"{self.campaign.id}@{self.campaign.created_at:.6f}"

    async def _after(self, result: JournalSummary) -> JournalSummary:
        name = self.campaign.name
        if result.state == CampaignState.DONE.value:
            await through_outages(lambda: self.broker.drop_campaign(name))
        elif self.detach and result.summary is not None and not result.summary.stopped_reason:
            n = result.counts.in_flight
            reason = (f"detached: {n:,} recipients with the workers; 'bulksend resume {name} --broker URL' "
                      "collects their outcomes")
            await self.journal.set_state(self.campaign.id, CampaignState.PAUSED, reason)
            result = replace(result, reason=reason, exit_code=EXIT_OK if result.exit_code in (0, 1) and
                             not (result.counts.failed or result.counts.unknown) else result.exit_code)
        return result

    async def _sort_in_flight(self) -> dict[int, Batch]:
        """The batches the journal holds in flight that Redis still has (see ``submit``)."""
        c = self.campaign
        rows = await self.journal.batches_in(c.id, (BatchState.IN_FLIGHT,))
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
                members = await self.journal.members(row)
                if members:
                    held[row.seq] = Batch(c.name, row.seq, recipients_of(members))
            elif row.seq > hwm:  # never added to the stream: nothing of it was sent
                await self.journal.return_batch(c.id, row.seq, "not_submitted",
                                                "written in flight but never handed to the workers")
        if held:
            self.on_event(f"{len(held):,} batches are still with the workers; waiting for their outcomes")
        return held

    async def _settle_down_unheld(self, plan: Any, held: set[int]) -> bool:
        rows = await self.journal.batches_in(self.campaign.id, (BatchState.IN_FLIGHT,))
        if all(r.seq in held for r in rows):
            return True
        return await self._settle_down(plan)

    async def _return_held(self, batch: Batch) -> None:
        await self.journal.return_batch(self.campaign.id, batch.seq, "not_taken",
                                        "handed back by the workers unsent (the campaign stopped)")


def _exit_for(bad: int) -> int:
    return 1 if bad else EXIT_OK


async def send_via_broker(
    config: Config, spec: CampaignSpec, settings: JournalSettings, broker: str, *,
    options: RunOptions = RunOptions(), env: Mapping[str, str] | None = None, on_start: OnStart | None = None,
    on_event: OnEvent | None = None, handle_signals: bool = False, clock: Callable[[], float] = time.time,
    fresh: bool = False, window: int = WINDOW, detach: bool = False, keys: Keys = Keys(),
) -> JournalSummary:
    """``send_journaled`` with its batches sent by ``bulksend worker`` processes through Redis."""
    plan = config.plan(spec.plan)
    message = normalized(spec.message)
    spec = replace(spec, message=message)
    if options.results_path is None and spec.results_path:
        options = replace(options, results_path=spec.results_path)
    provider = build_provider(plan, env)
    async with await _open(settings, clock) as journal:
        if fresh:
            spec = replace(spec, name=await _unused_name(journal, spec.name))
        campaign = await journal.campaign(spec.name)
        if campaign is None:
            from bulksend.preflight import preflight

            preflight(spec, plan)
            await _claim_new(broker, keys, spec.name)
            held = message.send_at is not None and not provider.supports_send_at
            campaign = await journal.create(spec.name, target_of(plan), message, _source(spec), spec.max_batch,
                                            start_time(message) if held else None)
        else:
            campaign = await _may_go_on(journal, campaign, plan, options, message=message,
                                        max_batch=spec.max_batch, supports_send_at=provider.supports_send_at)
        return await _go(config, journal, campaign, options, env, on_start, on_event, handle_signals, clock,
                         broker, window, detach, keys)


async def resume_via_broker(
    config: Config, name: str, settings: JournalSettings, broker: str, *, options: RunOptions = RunOptions(),
    plan: str | None = None, env: Mapping[str, str] | None = None, on_start: OnStart | None = None,
    on_event: OnEvent | None = None, handle_signals: bool = False, clock: Callable[[], float] = time.time,
    window: int = WINDOW, detach: bool = False, keys: Keys = Keys(),
) -> JournalSummary:
    """``resume_campaign`` through Redis: batches the workers still hold are waited for, not resent."""
    from bulksend.errors import InputError

    async with await _open(settings, clock) as journal:
        campaign = await journal.campaign(name)
        if campaign is None:
            known = ", ".join(c.name for c in await journal.campaigns()) or "none"
            raise InputError(f"no campaign named {name!r} in journal {journal.path} (campaigns: {known})")
        chosen = config.plan(plan or campaign.target.plan)
        provider = build_provider(chosen, env)
        campaign = await _may_go_on(journal, campaign, chosen, options, message=None, max_batch=None,
                                    supports_send_at=provider.supports_send_at)
        return await _go(config, journal, campaign, options, env, on_start, on_event, handle_signals, clock,
                         broker, window, detach, keys)


async def _claim_new(url: str, keys: Keys, name: str) -> None:
    """Before a new campaign is created: refuse a name another journal's campaign still uses."""
    broker = Broker.connect(url, keys)
    try:
        await through_outages(lambda: broker.claim(name, None))
    finally:
        await broker.close()


async def _go(config: Config, journal: Journal, campaign: CampaignRecord, options: RunOptions,
              env: Mapping[str, str] | None, on_start: OnStart | None, on_event: OnEvent | None,
              handle_signals: bool, clock: Callable[[], float], url: str, window: int, detach: bool,
              keys: Keys) -> JournalSummary:
    signals = StopSignals(options.stop_timeout)
    if handle_signals:
        signals.install()
    broker = Broker.connect(url, keys)
    try:
        return await BrokerRun(config, journal, campaign, options, env, signals, on_start, on_event, clock,
                               broker=broker, window=window, detach=detach).go()
    finally:
        signals.remove()
        await broker.close()
