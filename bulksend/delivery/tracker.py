"""Polling for delivery where callbacks are not possible (``bulksend track``).

For every recipient of a campaign that the store knows was accepted and that
has no final status yet, ask the provider:

- Sinch XMS: one ``GET .../batches/{id}/delivery_report?type=full`` per batch
  (it lists every recipient under its status); it has no per-recipient time,
  so polled XMS reports carry none and do not count towards latency;
- Sinch Classic: one ``GET /v1/message/status/{messageId}`` per message.

Requests are paced by a bucket at the plan's ``rate`` (one token a request,
``burst`` at most) with at most ``concurrency`` in flight, so polling never
pushes the plan past its limit. A poll that fails transiently is counted and
skipped: running ``track`` again picks it up.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from bulksend.config import Config, PlanConfig
from bulksend.delivery.model import Report, Sent, classic_status
from bulksend.delivery.store import DeliveryStore
from bulksend.engine.bucket import RecipientBucket
from bulksend.engine.transport import perform
from bulksend.errors import AmbiguousOutcome, InputError, TransientError
from bulksend.models import HttpRequest, HttpResponse
from bulksend.providers import build_provider
from bulksend.providers.classic import SinchClassic
from bulksend.providers.xms import SinchXms
from bulksend.webhooks.parse import Malformed, parse_xms


@dataclass(slots=True)
class TrackResult:
    campaign: str
    candidates: int = 0   # accepted recipients without a final status before polling
    requests: int = 0
    updated: int = 0      # reports stored
    final: int = 0        # of which final
    errors: int = 0       # polls that failed transiently (run again)


def xms_report_request(xms: SinchXms, batch_id: str) -> HttpRequest:
    base = f"{xms.base_url.rstrip('/')}/xms/v1/{quote(xms.service_plan_id, safe='')}/batches"
    return HttpRequest("GET", f"{base}/{quote(batch_id, safe='')}/delivery_report?type=full",
                       {"Authorization": f"Bearer {xms.token}"})


def xms_reports(response: HttpResponse, wanted: Mapping[str, Sent], now: float) -> list[Report]:
    """Reports for the ``wanted`` numbers (msisdn -> Sent) out of a full batch report."""
    if response.status != 200:
        raise TransientError(f"Sinch XMS delivery report answered {response.status}", status=response.status)
    try:
        parsed = parse_xms(response.body)
    except Malformed as exc:
        raise TransientError(f"Sinch XMS delivery report unreadable: {exc}") from None
    out = []
    for event in parsed.statuses:
        sent = wanted.get(event.ref.msisdn)
        if sent is not None:
            out.append(Report(sent.campaign, sent.msisdn, event.status, event.provider_status, event.code,
                              None, now, sent.provider_id))
    return out


Poll = Callable[[], Awaitable[list[Report]]]


async def track_campaign(
    config: Config, store: DeliveryStore, campaign: str, plan: str, *,
    env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time,
) -> TrackResult:
    """Poll the provider once for every pending recipient of ``campaign``; store what it says."""
    plan_config = config.plan(plan)
    provider = build_provider(plan_config, env)
    final = await store.final_of(campaign)
    todo = [s for s in await store.sent_of(campaign) if s.msisdn not in final and s.provider_id]
    result = TrackResult(campaign, candidates=len(todo))
    if not todo:
        return result
    timeout = aiohttp.ClientTimeout(total=plan_config.timeout)
    async with aiohttp.ClientSession(headers={"User-Agent": "bulksend/0.1"}) as session:
        async def fetch(request: HttpRequest) -> HttpResponse:
            result.requests += 1
            return await perform(session, request, timeout)

        polls = _polls(provider, todo, fetch, clock)
        await _run(polls, plan_config, store, result)
    return result


def _polls(provider: object, todo: list[Sent], fetch: Callable[[HttpRequest], Awaitable[HttpResponse]],
           clock: Callable[[], float]) -> list[Poll]:
    if isinstance(provider, SinchXms):
        by_batch: dict[str, dict[str, Sent]] = defaultdict(dict)
        for s in todo:
            by_batch[s.provider_id][s.msisdn] = s

        def xms_poll(batch_id: str, wanted: dict[str, Sent]) -> Poll:
            async def poll() -> list[Report]:
                return xms_reports(await fetch(xms_report_request(provider, batch_id)), wanted, clock())
            return poll

        return [xms_poll(b, w) for b, w in by_batch.items()]
    if isinstance(provider, SinchClassic):
        def classic_poll(sent: Sent) -> Poll:
            async def poll() -> list[Report]:
                value = provider.parse_status(await fetch(provider.status_request(sent.provider_id)))
                return [Report(sent.campaign, sent.msisdn, classic_status(value), value, "", None, clock(),
                               sent.provider_id)]
            return poll

        return [classic_poll(s) for s in todo]
    raise InputError(f"{getattr(provider, 'name', provider)} cannot be polled for delivery: "
                     "its reports arrive by callback (bulksend listen)")


async def _run(polls: list[Poll], plan: PlanConfig, store: DeliveryStore, result: TrackResult) -> None:
    """``concurrency`` workers take polls in order; each poll spends one token first."""
    bucket = RecipientBucket(plan.rate, max(1, plan.burst))
    queue = iter(polls)

    async def worker() -> None:
        for poll in queue:  # the shared iterator hands each poll to exactly one worker
            await bucket.spend(1)
            try:
                reports = await poll()
            except (TransientError, AmbiguousOutcome):
                result.errors += 1
                continue
            if reports:
                await store.record_reports(reports)
                result.updated += len(reports)
                result.final += sum(1 for r in reports if r.status.final)

    await asyncio.gather(*(worker() for _ in range(min(plan.concurrency, len(polls)))))
