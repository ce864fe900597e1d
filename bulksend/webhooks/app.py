"""The webhook receiver: ``bulksend listen`` (aiohttp.web, 127.0.0.1 by default).

Theory of operation
-------------------
Each plan of the config has one URL, ``/callbacks/{plan}``; the plan's
provider decides how a body is verified (``verify``) and read (``parse``).
A request goes through, in order:

1. size: a body over ``max_body`` (1 MiB) is 413, before it is read;
2. verification: a missing or bad signature is 401, logged with the plan and
   the peer address only (never a header or the body);
3. parsing: malformed JSON or an unknown shape is 400;
4. resolution: every status is tied to ``(campaign, msisdn)`` (``Resolver``).
   A report that nobody knows may simply have overtaken the sender's own
   record of the send, so resolution is retried for ``resolve_wait`` seconds;
   if still nothing is known, the answer is **404** and nothing is stored.
   Sinch does not retry a 4xx (it retries 5xx and 429 for up to 22 hours),
   so an unknown batch costs one request, not a day of retries;
5. storage: reports, then inbound messages (opt-outs flagged), group-committed;
   only then 200.

``GET /_listen/stats`` counts what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bulksend.outputs import append_private
from bulksend.serving import serve_app

from bulksend.config import Config
from bulksend.delivery.model import Inbound, Report
from bulksend.delivery.optout import opt_out_keyword
from bulksend.delivery.resolve import Resolver
from bulksend.delivery.store import DeliveryStore
from bulksend.webhooks.parse import Malformed, Parsed, StatusEvent, parse_classic, parse_clickatell, parse_xms
from bulksend.webhooks.verify import PlanHook, hooks_for

log = logging.getLogger("bulksend.listen")

MAX_BODY = 1024 * 1024


@dataclass(slots=True)
class ListenStats:
    requests: int = 0
    stored_reports: int = 0
    stored_inbound: int = 0
    opt_outs: int = 0
    unknown: int = 0
    unauthorized: int = 0
    malformed: int = 0
    too_large: int = 0
    summaries: int = 0


@dataclass(slots=True)
class Listener:
    """Everything a request handler needs."""

    hooks: Mapping[str, PlanHook]
    store: DeliveryStore
    resolver: Resolver
    inbound_file: str | None = None
    resolve_wait: float = 2.0
    clock: Callable[[], float] = time.time
    stats: ListenStats = field(default_factory=ListenStats)


LISTENER: web.AppKey[Listener] = web.AppKey("listener", Listener)


def _answer(status: int, **data: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def handle(request: web.Request) -> web.Response:
    listener = request.app[LISTENER]
    stats = listener.stats
    stats.requests += 1
    plan = request.match_info["plan"]
    hook = listener.hooks.get(plan)
    if hook is None:
        return _answer(404, error="unknown plan")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        stats.too_large += 1
        log.warning("callback for plan %s from %s refused: body over the size limit", plan, request.remote)
        return _answer(413, error="body too large")
    if hook.check is not None and not hook.check(request.method, request.rel_url.raw_path, body,
                                                 request.headers, listener.clock()):
        stats.unauthorized += 1
        log.warning("callback for plan %s from %s refused: missing or bad signature", plan, request.remote)
        return _answer(401, error="missing or bad signature")
    try:
        parsed = _parse(hook, body, request)
    except Malformed as exc:
        stats.malformed += 1
        log.info("callback for plan %s from %s refused: %s", plan, request.remote, exc)
        return _answer(400, error=str(exc))
    return await _store(listener, hook, parsed)


def _parse(hook: PlanHook, body: bytes, request: web.Request) -> Parsed:
    if hook.provider == "sinch_xms":
        return parse_xms(body)
    if hook.provider == "sinch_classic":
        return parse_classic(body)
    return parse_clickatell(body, request.content_type, request.query)


async def _store(listener: Listener, hook: PlanHook, parsed: Parsed) -> web.Response:
    stats = listener.stats
    reports = await _resolve_all(listener, parsed.statuses)
    if parsed.statuses and not reports:
        stats.unknown += 1
        log.info("callback for plan %s: no known message, nothing stored", hook.plan)
        return _answer(404, error="unknown message or batch")
    if reports:
        await listener.store.record_reports(reports)
        stats.stored_reports += len(reports)
    for event in parsed.inbound:
        await _store_inbound(listener, hook, event)
    if parsed.kind == "batch_report" and not parsed.statuses:
        stats.summaries += 1
    return _answer(200, stored=len(reports) + len(parsed.inbound))


async def _resolve_all(listener: Listener, events: tuple[StatusEvent, ...]) -> list[Report]:
    if not events:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + listener.resolve_wait
    while True:
        reports = []
        for event in events:
            found = await listener.resolver.resolve(event.ref)
            if found is not None:
                reports.append(Report(found[0], found[1], event.status, event.provider_status, event.code,
                                      event.at, listener.clock(), event.ref.provider_id))
        if reports or loop.time() >= deadline:
            return reports
        await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))


async def _store_inbound(listener: Listener, hook: PlanHook, event: Any) -> None:
    keyword = opt_out_keyword(event.body)
    message = Inbound(hook.provider, hook.plan, event.sender, event.recipient, event.body, listener.clock(),
                      event.at, event.message_id, bool(keyword), keyword)
    if listener.inbound_file:
        line = orjson.dumps({k: getattr(message, k) for k in Inbound.__dataclass_fields__}) + b"\n"
        await asyncio.to_thread(_append, listener.inbound_file, line)
    else:
        await listener.store.record_inbound(message)
    listener.stats.stored_inbound += 1
    if keyword:
        listener.stats.opt_outs += 1
        log.info("opt-out (%s) from a number on plan %s", keyword, hook.plan)


def _append(path: str, line: bytes) -> None:
    with append_private(path) as f:  # 0600: it holds phone numbers
        f.write(line)


async def _stats(request: web.Request) -> web.Response:
    stats = request.app[LISTENER].stats
    return _answer(200, **{k: getattr(stats, k) for k in ListenStats.__dataclass_fields__})


def build_listener(
    config: Config, store: DeliveryStore, *, env: Mapping[str, str], resolver: Resolver | None = None,
    inbound_file: str | None = None, max_body: int = MAX_BODY, resolve_wait: float = 2.0,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The receiver for every plan of ``config``; secrets are read from ``env`` now."""
    app = web.Application(client_max_size=max_body)
    app[LISTENER] = Listener(hooks_for(config, env), store, resolver or Resolver(store),
                             inbound_file, resolve_wait, clock)
    app.router.add_post("/callbacks/{plan}", handle)
    app.router.add_get("/callbacks/{plan}", handle)  # Clickatell's HTTP GET method
    app.router.add_get("/_listen/stats", _stats)
    return app


@dataclass(frozen=True, slots=True)
class RunningListener:
    url: str
    app: web.Application

    @property
    def stats(self) -> ListenStats:
        return self.app[LISTENER].stats

    def callback_url(self, plan: str) -> str:
        return f"{self.url}/callbacks/{plan}"


@contextlib.asynccontextmanager
async def listening(app: web.Application, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[RunningListener]:
    """Serve ``app`` in this event loop; ``port=0`` picks a free one."""
    async with serve_app(app, port, host) as url:
        yield RunningListener(url, app)


def inbound_path(value: str | None) -> str | None:
    if value is None:
        return None
    Path(value).parent.mkdir(parents=True, exist_ok=True)
    return value
