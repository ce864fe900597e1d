"""The journaled campaign's entry points: send a campaign, go on with one.

``send_journaled`` creates the campaign (or finds the one of that name) and
``resume_campaign`` finds it by name; both check that it may go on as asked
(``_may_go_on``) and hand it to ``runner.JournaledRun``, which takes it
through staging, holding, reconciling and sending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from dataclasses import replace
from pathlib import Path

from bulksend.config import Config, PlanConfig
from bulksend.engine import CampaignSpec
from bulksend.errors import InputError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.journal.records import CampaignRecord, CampaignState, ListSource, Target, message_hash
from bulksend.campaigns.identity import Inputs, file_fingerprint, input_changes, inputs_of, message_changes
from bulksend.campaigns.runner import JournalSummary, OnEvent, OnStart, RunFactory, RunOptions, JournaledRun
from bulksend.campaigns.schedule import normalized, start_time
from bulksend.journal.settings import JournalSettings
from bulksend.campaigns.signals import StopSignals
from bulksend.journal.staging import fingerprint
from bulksend.lists.scan import scan_inputs
from bulksend.lists.sources import RecipientSource
from bulksend.models import Message
from bulksend.outputs import check_outputs, journal_files
from bulksend.providers import account_of, build_provider
from bulksend.providers.checks import check_campaign


def target_of(plan: PlanConfig) -> Target:
    return Target(plan.name, plan.provider, account_of(plan), plan.base_url)


def _source(spec: CampaignSpec) -> ListSource:
    if spec.recipients is None:
        raise InputError("no recipient list given")
    r = spec.recipients
    path = r.path if r.path == "-" else str(Path(r.path).resolve())
    size, mtime = fingerprint(path)
    return ListSource(path, r.format, r.column, tuple(str(Path(e.path).resolve()) for e in spec.exclude),
                      size, mtime, spec.rejects_path, r.delimiter, r.region)


async def send_journaled(
    config: Config, spec: CampaignSpec, settings: JournalSettings, *, options: RunOptions = RunOptions(),
    env: Mapping[str, str] | None = None, on_start: OnStart | None = None, on_event: OnEvent | None = None,
    handle_signals: bool = False, clock: Callable[[], float] = time.time, fresh: bool = False,
    run: RunFactory = JournaledRun, on_new: Callable[[str], Awaitable[None]] | None = None,
) -> JournalSummary:
    """Send ``spec`` with the journal; a name the journal knows goes on where it stopped.

    With ``fresh`` (a name bulksend made up, not the user's) a name already
    in the journal gets a ``-2``, ``-3``... suffix instead: a new campaign.
    ``run`` makes the run (``bulksend.scaleout`` sends through workers);
    ``on_new`` hears a new campaign's name after every check, before it is created.
    """
    plan = config.plan(spec.plan)
    check_campaign(plan, spec.message, spec.max_batch, None)
    message = normalized(spec.message)
    spec = replace(spec, message=message)
    if spec.recipients is None:
        raise InputError("no recipient list given")
    inputs = inputs_of(spec.recipients.path, [e.path for e in spec.exclude])
    if options.results_path is None and spec.results_path:
        options = replace(options, results_path=spec.results_path)
    provider = build_provider(plan, env)  # fails early on a missing token or bad plan
    _check_outputs(config, settings, options, spec.rejects_path, _inputs(spec))
    async with await _open(settings, clock) as journal:
        if fresh:
            spec = replace(spec, name=await _unused_name(journal, spec.name))
        campaign = await journal.campaign(spec.name)
        if campaign is None:
            from bulksend.preflight import preflight

            check_campaign(plan, message, spec.max_batch, datetime.fromtimestamp(clock(), timezone.utc))
            # Every input error is found before the campaign exists: a list that
            # cannot be read to its end, a missing exclude list, no number column.
            if spec.recipients is not None:
                scan_inputs(spec.recipients, spec.exclude)
            preflight(spec, plan)
            if on_new is not None:
                await on_new(spec.name)
            held = message.send_at is not None and not provider.supports_send_at
            campaign = await journal.write(store.create_campaign_with_inputs, spec.name, target_of(plan), message,
                                           _source(spec), spec.max_batch, start_time(message) if held else None,
                                           inputs.to_json(), journal.clock())
            result = await _go(config, journal, campaign, options, env, on_start, on_event, handle_signals, clock,
                               run)
            return await _none_sendable(journal, campaign, result, spec)
        changed = input_changes(Inputs.from_json(await journal.read(store.inputs_of, campaign.id)), inputs)
        campaign = await _may_go_on(journal, campaign, plan, options, message=message, max_batch=spec.max_batch,
                                    supports_send_at=provider.supports_send_at, inputs=changed)
        if changed:  # allowed: the new list is read for the recipients the campaign does not have
            await journal.write(store.take_new_list, campaign.id, _source(spec), inputs.to_json(), journal.clock())
            campaign = await journal.read(store.get_campaign, campaign.id)
        else:
            campaign = await _same_bytes(journal, campaign)
            _scan_rest(campaign)
        out = await _go(config, journal, campaign, options, env, on_start, on_event, handle_signals, clock, run)
        if changed and on_event is not None:
            on_event(_added_text(campaign, out))
        return out


async def _same_bytes(journal: Journal, campaign: CampaignRecord) -> CampaignRecord:
    """A list touched or copied back (a new mtime, the same bytes as its fingerprint)
    is the same list: its staging goes on where it stopped, with no --allow-changes."""
    src = campaign.source
    if campaign.staged or src.path == "-":
        return campaign
    size, mtime = fingerprint(src.path)
    if size < 0 or (size, mtime) == (src.size, src.mtime_ns):
        return campaign
    known = Inputs.from_json(await journal.read(store.inputs_of, campaign.id))
    if known is None or known.list_path != src.path or file_fingerprint(src.path) != known.list_fp:
        return campaign
    await journal.write(store.set_source, campaign.id, replace(src, size=size, mtime_ns=mtime), journal.clock())
    return await journal.read(store.get_campaign, campaign.id)


def _added_text(before: CampaignRecord, out: JournalSummary) -> str:
    """How many recipients new inputs added (``--allow-changes``)."""
    added = out.counts.total - before.total
    return (f"the new inputs added {added:,} recipients not yet in campaign {before.name}"
            f"{'' if out.state == 'done' else ' so far'}")


async def resume_campaign(
    config: Config, name: str, settings: JournalSettings, *, options: RunOptions = RunOptions(),
    plan: str | None = None, env: Mapping[str, str] | None = None, on_start: OnStart | None = None,
    on_event: OnEvent | None = None, handle_signals: bool = False, clock: Callable[[], float] = time.time,
    run: RunFactory = JournaledRun,
) -> JournalSummary:
    """Go on with campaign ``name`` where it stopped, with what the journal holds (``run``: as for
    ``send_journaled``)."""
    async with await _open(settings, clock) as journal:
        campaign = await journal.campaign(name)
        if campaign is None:
            known = ", ".join(c.name for c in await journal.campaigns()) or "none"
            raise InputError(f"no campaign named {name!r} in journal {journal.path} (campaigns: {known})")
        chosen = config.plan(plan or campaign.target.plan)
        provider = build_provider(chosen, env)
        src = campaign.source
        _check_outputs(config, settings, options, None if campaign.staged else src.rejects_path,
                       [src.path, *src.exclude, options.recipients])
        campaign = await _may_go_on(journal, campaign, chosen, options, message=None, max_batch=None,
                                    supports_send_at=provider.supports_send_at)
        campaign = await _same_bytes(journal, campaign)
        _scan_rest(campaign)
        return await _go(config, journal, campaign, options, env, on_start, on_event, handle_signals, clock, run)


def _inputs(spec: CampaignSpec) -> list[str | None]:
    return [spec.recipients.path if spec.recipients else None, *(e.path for e in spec.exclude)]


def _check_outputs(config: Config, settings: JournalSettings, options: RunOptions, rejects: str | None,
                   inputs: list[str | None]) -> None:
    """The run's output files, checked before the journal is opened or anything sent (``bulksend.outputs``)."""
    check_outputs({"--results": options.results_path, "--rejects": rejects},
                  [*inputs, config.path, *journal_files(settings.path)], force=options.force)


def _scan_rest(campaign: CampaignRecord) -> None:
    """A campaign whose list is not all in the journal yet: the list is read to
    its end again before this run sends anything (the checks of staging, a list
    gone or changed, come after and say so in their own words)."""
    src = campaign.source
    if campaign.staged or src.path == "-" or not Path(src.path).is_file():
        return
    scan_inputs(RecipientSource(src.path, src.format, src.column, src.delimiter, src.region),
                [RecipientSource(path, region=src.region) for path in src.exclude if Path(path).is_file()])


async def _none_sendable(journal: Journal, campaign: CampaignRecord, result: JournalSummary,
                         spec: CampaignSpec) -> JournalSummary:
    """A new campaign whose whole list held no one to send to is an input
    error: it is taken out of the journal again (nothing of it was sent)."""
    run = result.summary
    if result.state != CampaignState.DONE.value or result.counts.total or run is None:
        return result
    await journal.write(store.forget_campaign, campaign.id)
    shown = spec.recipients.display if spec.recipients else "the list"
    raise InputError(f"{shown}: no sendable recipients (read {run.recipients_read:,}: invalid {run.invalid:,}, "
                     f"duplicates {run.duplicates:,}, excluded {run.excluded:,}); nothing was sent")


async def _unused_name(journal: Journal, name: str) -> str:
    candidate, n = name, 1
    while await journal.campaign(candidate) is not None:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


async def _open(settings: JournalSettings, clock: Callable[[], float]) -> Journal:
    # verify: a damaged journal is refused before anything is sent from it
    return await Journal.open(settings.path, synchronous=settings.synchronous,
                              busy_timeout=settings.busy_timeout, verify=True, clock=clock)


async def _go(config: Config, journal: Journal, campaign: CampaignRecord, options: RunOptions,
              env: Mapping[str, str] | None, on_start: OnStart | None, on_event: OnEvent | None,
              handle_signals: bool, clock: Callable[[], float], run: RunFactory = JournaledRun) -> JournalSummary:
    signals = StopSignals(options.stop_timeout)
    if handle_signals:
        signals.install()
    try:
        return await run(config, journal, campaign, options, env, signals, on_start, on_event, clock).go()
    finally:
        signals.remove()


async def _may_go_on(journal: Journal, campaign: CampaignRecord, plan: PlanConfig, options: RunOptions, *,
                     message: Message | None, max_batch: int | None, supports_send_at: bool,
                     inputs: Sequence[str] = ()) -> CampaignRecord:
    """Refuse to go on with a campaign that would change under the operator's feet.

    The rate, burst, concurrency and plan name may change; a different
    provider, account or endpoint, a different message, or different input
    lists (``inputs``: what changed, in words) need ``allow_changes``.
    """
    if campaign.state is CampaignState.CANCELLED:
        raise InputError(f"campaign {campaign.name!r} was cancelled ({campaign.reason or 'by the operator'}); "
                         "it cannot be sent further")
    target = target_of(plan)
    changes = []
    moved = campaign.target.differs(target)
    if moved:
        changes.append(f"a different provider ({moved})")
    if message is not None and message_hash(message) != campaign.message_hash:
        changes.append(f"a different message ({message_changes(campaign.message, message)})")
    if (changes or inputs) and not options.allow_changes:
        every = [*changes, *inputs]
        raise InputError(f"campaign {campaign.name!r} in journal {journal.path} was started with "
                         f"{' and '.join(c.split(' (')[0].replace('a different', 'another') for c in every)} "
                         f"than now: {'; '.join(every)}. Go on with it as it was, or pass --allow-changes to "
                         "take the new ones (a new list adds only the recipients the campaign does not have)")
    if changes or max_batch is not None:
        new_message = message or campaign.message
        held = new_message.send_at is not None and not supports_send_at
        await journal.write(store.update_spec, campaign.id, target, new_message, max_batch or campaign.max_batch,
                            start_time(new_message) if held else None, journal.clock())
    elif plan.name != campaign.target.plan:
        await journal.write(store.set_plan, campaign.id, plan.name, journal.clock())
    if options.recipients is not None and not campaign.staged:
        await _replace_list(journal, campaign, options.recipients)
    return await journal.read(store.get_campaign, campaign.id)


async def _replace_list(journal: Journal, campaign: CampaignRecord, path: str) -> None:
    """A new file for a list not yet fully staged: staging starts over from it."""

    src = campaign.source
    resolved = path if path == "-" else str(Path(path).resolve())
    size, mtime = fingerprint(resolved)
    source = ListSource(resolved, src.format, src.column, src.exclude, size, mtime, src.rejects_path,
                        src.delimiter, src.region)

    await journal.write(store.replace_list, campaign.id, source, journal.clock())
