"""Polling for delivery where callbacks are not possible (``bulksend track``).

For every recipient of a campaign that was accepted and has no final status
yet, ask the provider. Who was accepted comes from the campaign journal
(``accepted``: every accepted batch of a journaled send or resume) and from
the delivery store's own record (``sent_of``: sends without a journal,
and ``DeliveryLedger``); the two are merged by number. What to ask and how to read the
answer is the provider's (``poll_requests`` / ``parse_poll``), e.g.:

- Sinch XMS: one ``GET .../batches/{id}/delivery_report?type=full`` per batch
  (it lists every recipient under its status); it has no per-recipient time,
  so polled XMS reports carry none and do not count towards latency;
- Sinch Classic: one ``GET /v1/message/status/{messageId}`` per message.

Requests go through the engine's transport (its one session, or a test's
``MockTransport``), paced by a bucket at the plan's ``rate`` (one token a
request, ``burst`` at most) with at most ``concurrency`` in flight, so
polling never pushes the plan past its limit. A poll that fails transiently
is counted and skipped: running ``track`` again picks it up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bulksend.config import Config, PlanConfig
from bulksend.delivery.model import Report, Sent
from bulksend.delivery.store import DeliveryStore
from bulksend.engine import Engine
from bulksend.engine.bucket import RecipientBucket
from bulksend.engine.calls import ProviderCalls
from bulksend.engine.transport import Transport
from bulksend.errors import AmbiguousOutcome, InputError, TransientError
from bulksend.providers import build_provider
from bulksend.providers.callbacks import StatusPoll


@dataclass(slots=True)
class TrackResult:
    campaign: str
    accepted: int = 0     # accepted recipients known (journal and delivery store)
    candidates: int = 0   # accepted recipients without a final status before polling
    requests: int = 0
    updated: int = 0      # reports stored
    final: int = 0        # of which final
    errors: int = 0       # polls that failed transiently (run again)


async def track_campaign(
    config: Config, store: DeliveryStore, campaign: str, plan: str, *,
    env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time,
    transport: Transport | None = None, accepted: Sequence[Sent] = (),
) -> TrackResult:
    """Poll the provider once for every pending recipient of ``campaign``; store what it says.

    ``accepted``: the recipients the journal says were accepted (see the module docstring)."""
    plan_config = config.plan(plan)
    provider = build_provider(plan_config, env)
    known = {s.msisdn: s for s in await store.sent_of(campaign)}
    known.update((s.msisdn, s) for s in accepted)
    final = await store.final_of(campaign)
    todo = [s for s in known.values() if s.msisdn not in final and s.provider_id]
    result = TrackResult(campaign, accepted=len(known), candidates=len(todo))
    if not todo:
        return result
    polls = provider.poll_requests([(s.provider_id, s.msisdn) for s in todo])
    if polls is None:
        raise InputError(f"{provider.name} cannot be polled for delivery: "
                         "its reports arrive by callback (bulksend listen)")
    sent = {(s.provider_id, s.msisdn): s for s in todo}
    async with Engine(config, env=env, transport=transport) as engine:
        await _run(polls, engine.calls(plan), sent, store, result, clock)
    return result


async def _run(polls: list[StatusPoll], calls: ProviderCalls, sent: Mapping[tuple[str, str], Sent],
               store: DeliveryStore, result: TrackResult, clock: Callable[[], float]) -> None:
    """``concurrency`` workers take polls in order; each poll spends one token first."""
    plan: PlanConfig = calls.plan
    bucket = RecipientBucket(plan.rate, max(1, plan.burst))
    queue = iter(polls)

    async def worker() -> None:
        for poll in queue:  # the shared iterator hands each poll to exactly one worker
            await bucket.spend(1)
            try:
                result.requests += 1
                statuses = calls.provider.parse_poll(poll, await calls.once(poll.request))
            except (TransientError, AmbiguousOutcome):
                result.errors += 1
                continue
            now = clock()
            reports = [Report(s.campaign, s.msisdn, p.status, p.provider_status, p.code, None, now, s.provider_id)
                       for p in statuses if (s := sent.get((p.provider_id, p.msisdn))) is not None]
            if reports:
                await store.record_reports(reports)
                result.updated += len(reports)
                result.final += sum(1 for r in reports if r.status.final)

    await asyncio.gather(*(worker() for _ in range(min(plan.concurrency, len(polls)))))
