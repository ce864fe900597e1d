"""Sending a journaled campaign: stage, hold, reconcile, send, record.

Theory of operation
-------------------
``service.send_journaled`` (a new campaign, or one whose name the journal
knows) and ``service.resume_campaign`` (by name) meet in ``JournaledRun.go``,
which takes a campaign through the same steps every time, skipping those
already done:

1. **Hold** until the start time, when the provider cannot schedule
   (``supports_send_at`` is False): the campaign is ``scheduled`` and the
   journal keeps its start time across restarts. A held campaign's list is
   staged into the journal first (``Stager.step``), so it is checked and
   counted before the wait.
2. **Reconcile** the batches a previous run left in flight, before anything
   else is sent (``reconcile``).
3. **Send** what is left through the engine: ``JournalLedger`` is both the
   batch source and the ledger. It sends what the journal holds, then reads
   the rest of the list (staging it while the first batches go out), so
   each batch is written in flight before its request leaves and its
   outcome after the answer.
5. **Record** how the run ended: ``done`` when nothing is left, else
   ``paused`` with the reason (exit 75 when it stopped early).

Ctrl-C or SIGTERM at any step stops it the same way: no new batches, the
ones in flight get ``stop_timeout`` seconds, a second signal stops waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bulksend.config import Config, PlanConfig
from bulksend.core.estimate import BodyMeter
from bulksend.engine import CampaignRun, CampaignSpec, CampaignSummary, Engine
from bulksend.engine.campaign import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_RESUMABLE
from bulksend.errors import CampaignRefused, MachineFailure, TransientError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.campaigns.journal_ledger import JournalLedger
from bulksend.campaigns.reconcile import Reconciled, reconcile
from bulksend.journal.records import (
    BatchState,
    CampaignRecord,
    CampaignState,
    Counts,
    iso_utc,
)
from bulksend.campaigns.schedule import wait_until
from bulksend.campaigns.signals import StopSignals
from bulksend.journal.staging import Stager, check_unchanged, write_rejects
from bulksend.providers import body_limit
from bulksend.providers.base import can_look_up
from bulksend.lists.sources import count_lines

OnStart = Callable[[CampaignRun], Any]
OnEvent = Callable[[str], None]
#: what makes a run: ``JournaledRun`` itself, or a subclass (``bulksend.scaleout``'s ``BrokerRun``)
RunFactory = Callable[..., "JournaledRun"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to go on with a campaign (the flags of ``send`` and ``resume``)."""

    #: a different provider, account or message may take over the campaign
    allow_changes: bool = False
    #: send again recipients whose fate the provider cannot tell (may duplicate)
    resend_unknown: bool = False
    #: send again recipients that failed (the provider did not take them)
    retry_failed: bool = False
    #: after a stop signal, seconds to wait for batches in flight
    stop_timeout: float = 30.0
    #: this run's per-batch results file (msisdn,status,batch_id,code,attempts)
    results_path: str | None = None
    #: a replacement list, for a campaign whose staging had not finished
    recipients: str | None = None
    #: overwrite existing output files (results, rejects)
    force: bool = False


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """How a journaled run ended, and where the whole campaign stands."""

    campaign: str
    journal: str
    state: str
    reason: str
    exit_code: int
    counts: Counts
    summary: CampaignSummary | None = None
    reconciled: dict[str, int] = field(default_factory=dict)
    staging_s: float = 0.0
    start_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        run = self.summary.to_dict() if self.summary else {}
        return {**run, "campaign": self.campaign, "exit_code": self.exit_code, "journal": {
            "path": self.journal, "state": self.state, "reason": self.reason,
            "counts": self.counts.to_dict(), "reconciled": self.reconciled,
            "staging_s": round(self.staging_s, 3), "start_at": self.start_at}}


class JournaledRun:
    """One go at one campaign (see the module docstring)."""

    def __init__(self, config: Config, journal: Journal, campaign: CampaignRecord, options: RunOptions,
                 env: Mapping[str, str] | None, signals: StopSignals, on_start: OnStart | None,
                 on_event: OnEvent | None, clock: Callable[[], float]) -> None:
        self.config = config
        self.journal = journal
        self.campaign = campaign
        self.options = options
        self.env = env
        self.signals = signals
        self.on_start = on_start
        self.on_event = on_event or (lambda text: None)
        self.clock = clock
        self.meter: BodyMeter | None = None
        self.staging_started = 0.0
        self.reconciled = Reconciled()

    async def go(self) -> JournalSummary:
        plan = self.config.plan(self.campaign.target.plan)
        if self.campaign.start_at is not None and self.clock() < self.campaign.start_at:
            if not self.campaign.staged and not await self._stage(plan):
                return await self._paused(self.signals.reason or "stopped while staging", EXIT_RESUMABLE)
            if not await self._hold():
                return await self._ended(CampaignState.SCHEDULED, self.signals.reason, EXIT_RESUMABLE)
        async with self._engine() as engine:
            runner = engine.plan_runner(plan.name)
            await self.journal.write(store.set_state, self.campaign.id, CampaignState.RUNNING, "", self.journal.clock())
            calls = runner.calls
            held = await self._held_elsewhere(engine)
            if not await self._settle_down(runner.plan, can_look_up(runner.provider), held):
                return await self._paused(self.signals.reason, EXIT_RESUMABLE)
            try:
                self.reconciled = await reconcile(self.journal, self.campaign, calls, self.options.resend_unknown,
                                                  self.on_event, skip=held)
            except TransientError as exc:
                return await self._paused(f"cannot reconcile with the provider: {exc}", EXIT_RESUMABLE)
            except CampaignRefused as exc:
                return await self._paused(str(exc), EXIT_REFUSED)
            if self.reconciled.batches or self.reconciled.returned or self.reconciled.asked_again:
                self.on_event(self._reconciled_text())
            if self.options.retry_failed:
                again = await self.journal.write(store.return_failed, self.campaign.id, self.journal.clock())
                self.on_event(f"{again:,} failed recipients will be sent again")
            if self.signals.requested.is_set():
                return await self._paused(self.signals.reason, EXIT_RESUMABLE)
            counts = await self.journal.read(store.counts, self.campaign.id)
            if counts.pending == 0 and self.campaign.staged and not held:
                self.on_event(f"nothing left to send in campaign {self.campaign.name}")
                return await self._finished(await self._ended(CampaignState.DONE, "", _exit_for(counts)))
            stager = None if self.campaign.staged else await self._stager(plan)
            result = await self._send(engine, counts, stager)
        return await self._finished(result)

    # -- hooks for a run that sends through other hands (``bulksend.scaleout``) ----
    def _engine(self) -> Engine:
        """The engine this run's batches go through."""
        return Engine(self.config, env=self.env)

    async def _held_elsewhere(self, engine: Engine) -> frozenset[int]:
        """The seqs of batches in flight that are still held elsewhere (a broker's
        workers): they are neither reconciled nor waited out, but waited for."""
        return frozenset()

    async def _finished(self, result: JournalSummary) -> JournalSummary:
        """How the run ended, after the engine closed (a subclass may amend it)."""
        return result

    # -- the steps ---------------------------------------------------------------
    async def _stager(self, plan: PlanConfig) -> Stager:
        """What reads the part of the list the journal does not hold yet."""
        campaign = self.campaign
        if campaign.line_done or campaign.read:
            if not check_unchanged(campaign.source, self.options.allow_changes):
                await self.journal.write(store.restart_list, campaign.id, self.journal.clock())
                campaign = self.campaign = await self.journal.read(store.get_campaign, campaign.id)
        self.meter = BodyMeter(campaign.message.max_parts or plan.max_parts, body_limit(plan.provider))
        self.staging_started = time.monotonic()
        self.on_event(f"reading {campaign.source.path} into the journal {self.journal.path}")
        return Stager(campaign, self.meter)

    async def _stage(self, plan: PlanConfig) -> bool:
        """Stage the whole list without sending (a campaign held until its start)."""
        stager = await self._stager(plan)
        while not stager.done:
            if self.signals.requested.is_set():
                return False
            await self.journal.call(stager.step, write=True)
        await self._staged(stager)
        return True

    async def _staged(self, stager: Stager) -> None:
        """The whole list is in the journal: record it, write the rejects file."""
        campaign, meter = self.campaign, stager.meter
        parts = meter.tally.to_dict() if meter.tally.recipients else {}  # repeats were never metered
        if parts and campaign.line_done:
            parts["partial"] = True  # counted over the part of the list this run read
        staging_s = time.monotonic() - self.staging_started
        _dups, total = await self.journal.write(store.finish_staging, campaign.id, parts, staging_s,
                                                self.journal.clock())
        if campaign.source.rejects_path:
            await self.journal.call(write_rejects, campaign.id, campaign.source.rejects_path,
                                    campaign.source.path)
        c = self.campaign = await self.journal.read(store.get_campaign, campaign.id)
        self.on_event(f"read the whole list in {staging_s:.1f}s: {total:,} recipients (read {c.read:,}, "
                      f"invalid {c.invalid:,}, duplicates {c.duplicates:,}, excluded {c.excluded:,})")

    async def _hold(self) -> bool:
        start = self.campaign.start_at
        assert start is not None
        await self.journal.write(store.set_state, self.campaign.id, CampaignState.SCHEDULED,
                                 f"held until {iso_utc(start)}", self.journal.clock())
        self.on_event(f"campaign {self.campaign.name} is held until {iso_utc(start)} (the provider cannot "
                      "schedule); Ctrl-C leaves it scheduled, 'bulksend resume' waits again")
        return await wait_until(start, self.signals.requested, self.clock)

    async def _settle_down(self, plan: PlanConfig, asks_again: bool, held: frozenset[int] = frozenset()) -> bool:
        """Give requests a dead run sent the time to land before asking about them.

        A provider asked about a batch it is still processing would say it
        does not have it, and the batch would be sent twice. A request is
        given up on after ``plan.timeout``; so the provider is asked only
        that long after the previous run was last seen writing a batch.
        (``asks_again``: unknown batches will be asked about too; ``held``: batches
        held elsewhere, not asked about.)
        """
        states = (BatchState.IN_FLIGHT, BatchState.UNKNOWN) if asks_again else (BatchState.IN_FLIGHT,)
        rows = await self.journal.read(store.batches_in, self.campaign.id, states)
        if all(r.seq in held for r in rows):
            return True
        last = await self.journal.read(store.last_activity, self.campaign.id) or 0.0
        until = last + plan.timeout
        if until > self.clock():
            self.on_event(f"waiting {until - self.clock():.1f}s (the plan's timeout) before asking the provider "
                          "about batches the last run left in flight")
        return await wait_until(until, self.signals.requested, self.clock)

    async def _send(self, engine: Engine, counts: Counts, stager: Stager | None) -> JournalSummary:
        c = self.campaign
        message = c.message
        if c.start_at is not None:  # bulksend held it; the provider must not see send_at
            message = replace(message, send_at=None)
        spec = CampaignSpec(c.name, c.target.plan, message, max_batch=c.max_batch,
                            results_path=self.options.results_path, resend_unknown=self.options.resend_unknown)
        ledger = JournalLedger(self.journal, c, stager=stager,
                               early_marks=can_look_up(engine.plan_runner(c.target.plan).provider))
        run = engine.submit(spec, ledger=ledger, batches=ledger.batches)
        run.stats.waiting = counts.pending  # from before: the summary counts them apart from the list read
        if stager is None:
            run.expect(counts.pending)
            run.list_read(counts.pending)
        else:
            async def staged() -> None:
                run.list_read(counts.pending)  # the progress bar's total is exact from here
                await self._staged(stager)

            ledger.on_staged = staged
            run.meter_with(stager.meter)
            lines = count_lines(c.source.path) if self.on_start is not None else None  # for progress only
            # The run reads the list as it sends: it started when the reading did.
            run.expect(counts.pending + max(0, (lines or 0) - c.line_done), started=self.staging_started)
        self.signals.attach(run)
        if self.on_start is not None:
            self.on_start(run)
        summary = await run.wait()
        machine = _machine_failure(run.crashed, ledger.failure)
        if machine is not None:  # the journal's disk failed: stop here, resumable; nothing more is written
            raise machine
        await ledger.close()
        after = await self.journal.read(store.counts, c.id)
        # Done only when the whole list was read and nothing went wrong: a run that
        # crashed part-way has nothing pending in the journal for the lines it never read.
        whole = stager is None or stager.done
        if whole and run.crashed is None and after.pending == 0 and after.in_flight == 0:
            # Done: the exit code tells about the whole campaign, earlier runs included.
            code = _exit_for(after) if summary.exit_code in (EXIT_OK, EXIT_FAILED) else summary.exit_code
            return await self._ended(CampaignState.DONE, "", code, summary)
        reason = summary.stopped_reason or "stopped before the end"
        return await self._ended(CampaignState.PAUSED, reason, summary.exit_code, summary)

    # -- endings -------------------------------------------------------------------
    async def _paused(self, reason: str, code: int) -> JournalSummary:
        return await self._ended(CampaignState.PAUSED, reason, code)

    async def _ended(self, state: CampaignState, reason: str, code: int,
                     summary: CampaignSummary | None = None) -> JournalSummary:
        await self.journal.write(store.set_state, self.campaign.id, state, reason, self.journal.clock())
        counts = await self.journal.read(store.counts, self.campaign.id)
        c = await self.journal.read(store.get_campaign, self.campaign.id)
        return JournalSummary(
            campaign=c.name, journal=str(self.journal.path), state=state.value, reason=reason, exit_code=code,
            counts=counts, summary=summary, reconciled=asdict(self.reconciled), staging_s=c.staging_s,
            start_at=iso_utc(c.start_at) if c.start_at is not None else (c.message.send_at or ""))

    def _reconciled_text(self) -> str:
        r = self.reconciled
        again = f" and asked again about {r.asked_again} unknown ones" if r.asked_again else ""
        return (f"reconciled {r.batches} batches left in flight{again}: {r.found:,} recipients accepted by the "
                f"provider, {r.returned:,} to send again, {r.unknown:,} unknown")


def _machine_failure(*errors: BaseException | None) -> MachineFailure | None:
    """The first failure of the machine (a full disk) among a run's errors.

    The campaign is left as the disk last saw it (running, batches in
    flight): ``resume`` reconciles it like after a crash. Exit 75.
    """
    return next((e for e in errors if isinstance(e, MachineFailure)), None)


def _exit_for(counts: Counts) -> int:
    return EXIT_FAILED if counts.failed or counts.unknown else EXIT_OK
