"""The sandbox's delivery callbacks (the fates themselves are in ``fates``).

``CallbackSender`` (one per app, one ``aiohttp.ClientSession``) POSTs a
callback when a recipient turns final: one task per batch walks its
recipients in time order, sleeping on the sandbox clock until each is due
(advancing the clock wakes it); at most ``callback_concurrency`` POSTs are in
flight. A callback answered 5xx, 429 or not at all is retried after
``retry_initial`` seconds, doubling, as Sinch does; another 4xx is not
retried. Callbacks only ever go to loopback addresses: the sandbox refuses a
batch whose ``callback_url`` is not. Inbound messages (``inbounds``) go out
through the same sender.

XMS callback codes (written down in the README): Delivered 0, Failed 402
("unroutable"), Expired 406 ("internal expiry"), Queued 400, Dispatched
401, Cancelled 407 (a batch cancelled before it was dispatched, e.g. before
its ``send_at``; Sinch's 408 is "internal reject", not a cancel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bulksend.config import is_loopback_url
from bulksend.providers.signing import basic_auth, webhook_hmac_headers
from bulksend.sandbox.fates import (CANCELLED, CLICKATELL_STATUS, CODES, DELIVERED, DISPATCHED, EXPIRED, FAILED,
                                    PER_BATCH, PER_RECIPIENT, QUEUED, STOPPED, BatchFates, Fate, attach,
                                    clickatell_stopped, fate)  # re-exported (__all__)
from bulksend.sandbox.http import STATE
from bulksend.sandbox.state import BatchRecord, SandboxState
from bulksend.sandbox.xms_reports import recipient_json, report_json

__all__ = ["CANCELLED", "CLICKATELL_STATUS", "CODES", "DELIVERED", "DISPATCHED", "EXPIRED", "FAILED", "PER_BATCH",
           "PER_RECIPIENT", "QUEUED", "REFUSED_TEXT", "SENDER", "STOPPED", "BatchFates", "Callback", "CallbackSender",
           "Fate", "attach", "callback_allowed", "clickatell_stopped", "fate", "sender_context", "sender_of"]

log = logging.getLogger("bulksend.sandbox.delivery")


def callback_allowed(url: str) -> bool:
    return url.startswith(("http://", "https://")) and is_loopback_url(url)


REFUSED_TEXT = ("callback_url: the sandbox only calls back to loopback addresses "
                "(127.0.0.0/8, ::1, localhost)")


@dataclass(frozen=True, slots=True)
class Callback:
    url: str
    body: bytes
    headers: dict[str, str]


class CallbackSender:
    """POSTs delivery callbacks for the whole sandbox app."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.sim = state.config.delivery
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(self.sim.callback_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.sim.callback_timeout)
        connector = aiohttp.TCPConnector(limit=self.sim.callback_concurrency)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector,
                                              headers={"User-Agent": "bulksend-sandbox"})

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- scheduling ------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def schedule_xms(self, record: BatchRecord, fates: BatchFates, secret: str | None) -> None:
        """Callbacks for an XMS batch, by its ``delivery_report`` kind."""
        url = record.data.get("callback_url")
        kind = record.data.get("delivery_report", "none")
        if not isinstance(url, str) or kind == "none":
            return
        if kind in PER_RECIPIENT:
            self.state.callbacks.scheduled += len(record.to)
            self._spawn(self._per_recipient(record, fates, url, secret))
        elif kind in PER_BATCH:
            self.state.callbacks.scheduled += 1
            self._spawn(self._per_batch(record, fates, url, secret, full=kind == "full"))

    def schedule_inbound(self, url: str, message: dict[str, Any], secret: str | None) -> None:
        """An XMS inbound (MO) message, POSTed at once to the plan's callback."""
        self.schedule_raw(self._xms_callback(url, message, secret))

    def schedule_raw(self, callback: Callback) -> None:
        """A callback already built (Classic's signed ``incomingSms``)."""
        self.state.callbacks.scheduled += 1
        self._spawn(self._send(callback))

    def schedule_messages(
        self, items: list[tuple[BatchRecord, str, str]], fates: BatchFates, url: str, secret: str | None,
    ) -> None:
        """Clickatell status callbacks: ``(record, message id, number)`` each."""
        self.state.callbacks.scheduled += len(items)
        self._spawn(self._clickatell(items, fates, url, secret))

    async def _sleep_until(self, when: float) -> None:
        await self.state.clock.sleep_until(when)

    def _due(self, record: BatchRecord, fates: BatchFates) -> list[tuple[float, str]]:
        times = [(fates.final_at(record, n), n) for n in record.to]
        if fates.sim.delay_jitter:
            times.sort()
        return times

    async def _per_recipient(self, record: BatchRecord, fates: BatchFates, url: str, secret: str | None) -> None:
        for when, number in self._due(record, fates):
            await self._sleep_until(when)
            report = recipient_json(record, number, max(when, self.state.clock()), self.state.clock.iso)
            await self._send(self._xms_callback(url, report, secret))

    async def _per_batch(self, record: BatchRecord, fates: BatchFates, url: str, secret: str | None,
                         full: bool) -> None:
        last = max((when for when, _n in self._due(record, fates)), default=record.dispatched_at)
        await self._sleep_until(last)
        report = report_json(record, max(last, self.state.clock()), full=full)
        await self._send(self._xms_callback(url, report, secret))

    async def _clickatell(self, items: list[tuple[BatchRecord, str, str]], fates: BatchFates, url: str,
                          secret: str | None) -> None:
        due = sorted((fates.final_at(rec, num, mid), rec, mid, num) for rec, mid, num in items) \
            if fates.sim.delay_jitter else [(fates.final_at(r, n, m), r, m, n) for r, m, n in items]
        for when, record, message_id, number in due:
            await self._sleep_until(when)
            stopped = clickatell_stopped(record, message_id, when)
            status, text = STOPPED if stopped else CLICKATELL_STATUS[fates.fate(message_id, number).status]
            body = {"data": {"apiMessageId": message_id, "to": number, "timestamp": int(self.state.wall(when)),
                             "messageStatus": status, "statusDescription": text, "charge": 1}}
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["Authorization"] = basic_auth("clickatell", secret)
            await self._send(Callback(url, orjson.dumps(body), headers))

    def _xms_callback(self, url: str, report: dict[str, Any], secret: str | None) -> Callback:
        body = orjson.dumps(report)
        headers = {"Content-Type": "application/json"}
        if secret:
            headers.update(webhook_hmac_headers(secret, body, secrets.token_hex(16), int(self.state.wall(
                self.state.clock()))))
        return Callback(url, body, headers)

    # -- sending ---------------------------------------------------------
    async def _send(self, callback: Callback) -> None:
        """Wait for a free slot, then POST in the background (order kept per batch)."""
        await self._slots.acquire()
        self._spawn(self._deliver(callback))

    async def _deliver(self, callback: Callback) -> None:
        stats = self.state.callbacks
        holding = True
        try:
            for attempt in range(self.sim.retries + 1):
                if not holding:
                    await self._slots.acquire()
                    holding = True
                status = await self._post(callback)
                self._slots.release()
                holding = False
                if status is not None and 200 <= status < 300:
                    stats.ok += 1
                    return
                if status is not None and 400 <= status < 500 and status != 429:
                    stats.rejected += 1
                    log.info("callback to %s answered %d: not retried", callback.url, status)
                    return
                if attempt == self.sim.retries:
                    break
                stats.retried += 1
                await asyncio.sleep(self.sim.retry_initial * 2**attempt)
            stats.given_up += 1
            log.warning("callback to %s given up after %d attempts", callback.url, self.sim.retries + 1)
        finally:
            if holding:
                self._slots.release()

    async def _post(self, callback: Callback) -> int | None:
        assert self._session is not None, "the callback sender is not started"
        self.state.callbacks.attempts += 1
        try:
            async with self._session.post(callback.url, data=callback.body, headers=callback.headers,
                                          allow_redirects=False) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return None

    async def drained(self, poll: float = 0.01) -> None:
        """Wait until every scheduled callback is answered or given up (tests, load tests)."""
        while self.state.callbacks.pending > 0 or any(not t.done() for t in self._tasks):
            await asyncio.sleep(poll)


SENDER: web.AppKey[CallbackSender] = web.AppKey("callback_sender", CallbackSender)


async def sender_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry: the sender lives exactly as long as the app."""
    sender = CallbackSender(app[STATE])
    await sender.start()
    app[SENDER] = sender
    try:
        yield
    finally:
        await sender.close()


def sender_of(app: web.Application) -> CallbackSender | None:
    with contextlib.suppress(KeyError):
        return app[SENDER]
    return None
