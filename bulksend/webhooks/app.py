"""The webhook receiver: ``bulksend listen`` (aiohttp.web, 127.0.0.1 by default).

Theory of operation
-------------------
Each plan of the config has one URL, ``/callbacks/{plan}``; the plan's
provider decides how a body is verified (``verify``) and read (``parse``).
Connections are capped and timed below the app (``serving.ServeLimits``:
over ``max_connections`` is 503, no complete request head within
``header_timeout`` is 408, an idle keep-alive connection is closed after
``idle_timeout``). A request then goes through, in order:

1. size and time: a body over ``max_body`` (1 MiB) is 413, before it is all
   read; a body that does not arrive within ``body_timeout`` is 408 (and the
   connection closed); a broken body encoding is 400;
2. verification: a missing, bad or unparsable signature is 401;
3. replay: a signature already taken within its skew window is **409**
   (``replay.ReplayGuard``; Sinch does not retry a 4xx, and the first copy was
   stored). A claim is released when its request is not stored, so a
   provider's retry after a 5xx still gets through;
4. parsing: malformed JSON or an unknown shape is 400;
5. resolution: every status is tied to ``(campaign, msisdn)`` (``Resolver``).
   A report that nobody knows may simply have overtaken the sender's own
   record of the send, so resolution is retried for ``resolve_wait`` seconds;
   if still nothing is known, the answer is **404** and nothing is stored.
   Sinch does not retry a 4xx (it retries 5xx and 429 for up to 22 hours),
   so an unknown batch costs one request, not a day of retries. A report
   naming a batch bulksend does not know is unknown even when its
   ``client_reference`` names a known campaign;
6. storage: reports, then inbound messages (opt-outs flagged), group-committed;
   only then 200.

Every refused request is logged (logger ``bulksend.listen``) as one line with
its status, plan, peer address and reason — never a header value, a
signature or a body. ``GET /_listen/stats`` counts what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bulksend.outputs import append_private
from bulksend.config import Config
from bulksend.delivery.api import journal_lookup
from bulksend.delivery.model import Inbound, Report
from bulksend.delivery.optout import opt_out_keyword
from bulksend.delivery.resolve import Resolver
from bulksend.delivery.store import DeliveryStore, SqliteDeliveryStore
from bulksend.serving import ConnectionStats, ServeLimits, read_body, serve_app
from bulksend.webhooks.parse import (
    InboundEvent,
    Malformed,
    Parsed,
    StatusEvent,
    parse_callback,
)
from bulksend.webhooks.replay import ReplayGuard
from bulksend.webhooks.verify import PlanHook, Verified, hooks_for

log = logging.getLogger("bulksend.listen")

if TYPE_CHECKING:
    from bulksend.metrics import Handler

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
    replayed: int = 0
    body_timeouts: int = 0


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
    limits: ServeLimits = field(default_factory=ServeLimits)
    replay: ReplayGuard = field(default_factory=ReplayGuard)
    connections: ConnectionStats = field(default_factory=ConnectionStats)


LISTENER: web.AppKey[Listener] = web.AppKey("listener", Listener)


def _answer(status: int, **data: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _refuse(request: web.Request, counter: str | None, status: int, reason: str) -> web.Response:
    """Count and log a refused request: status, plan, peer and reason only (never a header or body)."""
    if counter is not None:
        stats = request.app[LISTENER].stats
        setattr(stats, counter, getattr(stats, counter) + 1)
    plan = request.match_info.get("plan", "")
    shown = plan if plan in request.app[LISTENER].hooks else "(unknown)"  # a URL is the caller's text
    log.warning("callback refused (%d) for plan %s from %s: %s", status, shown, request.remote, reason)
    return _answer(status, error=reason)


async def handle(request: web.Request) -> web.StreamResponse:
    listener = request.app[LISTENER]
    listener.stats.requests += 1
    plan = request.match_info["plan"]
    hook = listener.hooks.get(plan)
    if hook is None:
        return _refuse(request, None, 404, "unknown plan")
    body = await _body(request, listener.limits.body_timeout)
    if isinstance(body, web.Response):
        return body
    verified = Verified()
    if hook.check is not None:
        found = hook.check(request.method, request.rel_url.raw_path, body, request.headers, listener.clock())
        if found is None:
            return _refuse(request, "unauthorized", 401, "missing or bad signature")
        verified = found
    if verified.signature and not listener.replay.claim(plan, verified.signature, verified.fresh_until,
                                                        listener.clock()):
        return _refuse(request, "replayed", 409, "a signature already taken (replayed callback)")
    stored = False
    try:
        answer = await _take(listener, hook, body, request)
        stored = answer.status == 200
        return answer
    finally:
        if verified.signature and not stored:
            listener.replay.release(plan, verified.signature)


async def _body(request: web.Request, timeout: float) -> bytes | web.Response:
    """The body, or the answer refusing it (413 too large, 408 too slow, 400 broken encoding)."""
    try:
        return await read_body(request, timeout)
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, "too_large", 413, "body over the size limit")
    except asyncio.TimeoutError:
        answer = _refuse(request, "body_timeouts", 408, "body not received in time")
    except web.RequestPayloadError:
        answer = _refuse(request, "malformed", 400, "the body's encoding is broken")
    answer.force_close()  # the rest of the body cannot be read: close the connection after answering
    return answer


async def _take(listener: Listener, hook: PlanHook, body: bytes, request: web.Request) -> web.Response:
    try:
        parsed = _parse(hook, body, request)
    except Malformed as exc:
        return _refuse(request, "malformed", 400, str(exc))
    answer = await _store(listener, hook, parsed)
    if answer.status == 404:
        return _refuse(request, "unknown", 404, "no known message or batch; nothing stored")
    return answer


def _parse(hook: PlanHook, body: bytes, request: web.Request) -> Parsed:
    return parse_callback(hook.provider, body, request.content_type, request.query)


async def _store(listener: Listener, hook: PlanHook, parsed: Parsed) -> web.Response:
    stats = listener.stats
    reports = await _resolve_all(listener, parsed.statuses)
    if parsed.statuses and not reports:
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


async def _store_inbound(listener: Listener, hook: PlanHook, event: InboundEvent) -> None:
    keyword = opt_out_keyword(event.body)
    message = Inbound(hook.provider, hook.plan, event.sender, event.recipient, event.body, listener.clock(),
                      event.at, event.message_id, bool(keyword), keyword)
    if listener.inbound_file:
        row = {k: getattr(message, k) for k in Inbound.__dataclass_fields__}
        if event.media:
            row["media"] = list(event.media)
        line = orjson.dumps(row) + b"\n"
        await asyncio.to_thread(_append, listener.inbound_file, line)
    else:
        await listener.store.record_inbound(message)
    listener.stats.stored_inbound += 1
    if keyword:
        listener.stats.opt_outs += 1
        log.info("opt-out (%s) from a number on plan %s", keyword, hook.plan)


def _append(path: str, line: bytes) -> None:
    """Append to the inbound log, created 0600: it holds phone numbers and message texts."""
    with append_private(path) as f:
        f.write(line)


async def _stats(request: web.Request) -> web.Response:
    listener = request.app[LISTENER]
    counts = {k: getattr(listener.stats, k) for k in ListenStats.__dataclass_fields__}
    connections = {k: getattr(listener.connections, k) for k in ConnectionStats.__dataclass_fields__}
    return _answer(200, **counts, connections=connections)


def _metrics(stats: ListenStats) -> Handler:
    from bulksend.metrics import counts_handler

    return counts_handler(
        "bulksend_listen_callbacks", "callback requests received, then what became of them",
        ["outcome"], lambda: {(k,): getattr(stats, k) for k in ListenStats.__dataclass_fields__})


def build_listener(
    config: Config, store: DeliveryStore, *, env: Mapping[str, str], resolver: Resolver | None = None,
    inbound_file: str | None = None, max_body: int = MAX_BODY, resolve_wait: float = 2.0,
    clock: Callable[[], float] = time.time, limits: ServeLimits | None = None,
) -> web.Application:
    """The receiver for every plan of ``config``; secrets are read from ``env`` now.

    ``limits`` (connection cap and timeouts) take effect when it is served by ``listening``.
    """
    if max_body < 1:
        raise ValueError(f"max_body must be at least 1 byte, got {max_body}")
    app = web.Application(client_max_size=max_body)
    app[LISTENER] = Listener(hooks_for(config, env), store, resolver or Resolver(store),
                             inbound_file, resolve_wait, clock, limits=limits or ServeLimits())
    app.router.add_post("/callbacks/{plan}", handle)
    app.router.add_get("/callbacks/{plan}", handle)  # Clickatell's HTTP GET method
    app.router.add_get("/_listen/stats", _stats)
    app.router.add_get("/metrics", _metrics(app[LISTENER].stats))
    return app


@dataclass(frozen=True, slots=True)
class RunningListener:
    url: str
    app: web.Application

    @property
    def stats(self) -> ListenStats:
        return self.app[LISTENER].stats

    @property
    def connections(self) -> ConnectionStats:
        return self.app[LISTENER].connections

    def callback_url(self, plan: str) -> str:
        return f"{self.url}/callbacks/{plan}"


@contextlib.asynccontextmanager
async def listening(app: web.Application, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[RunningListener]:
    """Serve ``app`` in this event loop, within its ``ServeLimits``; ``port=0`` picks a free one."""
    listener = app[LISTENER]
    async with serve_app(app, port, host, limits=listener.limits, stats=listener.connections, log=log) as url:
        yield RunningListener(url, app)


def inbound_path(value: str | None) -> str | None:
    if value is None:
        return None
    Path(value).parent.mkdir(parents=True, exist_ok=True)
    return value


async def serve_listener(
    config: Config, db: str | Path, *, port: int, host: str = "127.0.0.1", env: Mapping[str, str] | None = None,
    inbound_file: str | None = None, max_body: int = MAX_BODY, resolve_wait: float = 2.0,
    ready: Callable[[str], None] | None = None, limits: ServeLimits | None = None,
) -> None:
    """Run the webhook receiver until cancelled (``bulksend listen``); ``limits``: its connection
    cap and timeouts."""
    async with SqliteDeliveryStore(db) as store:
        app = build_listener(config, store, env=os.environ if env is None else env,
                             resolver=Resolver(store, journal_lookup(str(db))), inbound_file=inbound_file,
                             max_body=max_body, resolve_wait=resolve_wait, limits=limits)
        async with listening(app, port, host) as running:
            if ready is not None:
                ready(running.url)
            await asyncio.Event().wait()
