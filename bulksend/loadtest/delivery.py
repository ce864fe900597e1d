"""Delivery reports during a load test: who was accepted when, and when it
arrived. ``DeliveryTracker`` is pure bookkeeping; ``DeliveryReceiver`` is the
tiny aiohttp.web server on 127.0.0.1 the provider POSTs reports to.

A report can arrive before the client has even read the 201 that accepted
its batch (a fast sandbox delivers at once), so reports for a batch id not
seen yet wait in ``pending`` until the acceptance comes in; their latency
is then counted from the acceptance, never negative.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from bulksend.loadtest.recorder import Recorder

# Statuses a recipient can still leave; every other one is final.
NOT_FINAL = frozenset({"Queued", "Dispatched"})
REPORT_TYPE = "recipient_delivery_report_sms"


@dataclass(slots=True)
class _Accepted:
    at: float
    outstanding: int


@dataclass(slots=True)
class DeliveryTracker:
    """Matches per-recipient delivery reports with accepted batches."""

    recorder: Recorder
    accepted: dict[str, _Accepted] = field(default_factory=dict)
    pending: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    outstanding: int = 0     # accepted recipients without a final report yet
    ignored: int = 0         # reports for unknown batches, or not per recipient

    def batch_accepted(self, batch_id: str, at: float, recipients: int) -> None:
        self.accepted[batch_id] = _Accepted(at, recipients)
        self.outstanding += recipients
        for status, arrived in self.pending.pop(batch_id, ()):
            self._settle(batch_id, status, max(arrived, at))

    def report(self, batch_id: str, status: str, arrived: float) -> None:
        """One recipient's report arrived at ``arrived``."""
        if status in NOT_FINAL:
            return
        if batch_id not in self.accepted:
            self.pending.setdefault(batch_id, []).append((status, arrived))
            return
        self._settle(batch_id, status, arrived)

    def _settle(self, batch_id: str, status: str, arrived: float) -> None:
        entry = self.accepted[batch_id]
        if entry.outstanding <= 0:  # a repeated report (providers retry callbacks)
            self.ignored += 1
            return
        entry.outstanding -= 1
        self.outstanding -= 1
        if status == "Delivered":
            self.recorder.delivered(entry.at, arrived)
        else:
            self.recorder.delivery_failure(status)

    def take_report(self, data: Any, arrived: float) -> None:
        """A callback body: one report, or a list of them."""
        for item in data if isinstance(data, list) else (data,):
            if (isinstance(item, dict) and item.get("type") == REPORT_TYPE
                    and isinstance(item.get("batch_id"), str) and isinstance(item.get("status"), str)):
                self.report(item["batch_id"], item["status"], arrived)
            else:
                self.ignored += 1

    def finish(self) -> None:
        """Reports that never matched an accepted batch count as ignored."""
        self.ignored += sum(len(v) for v in self.pending.values())
        self.pending.clear()


class DeliveryReceiver:
    """``POST /delivery`` on 127.0.0.1 (a free port), feeding a tracker."""

    def __init__(self, tracker: DeliveryTracker, clock: Callable[[], float] = time.monotonic) -> None:
        self.tracker = tracker
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = self.clock()
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.Response(status=400, text="invalid JSON")
        self.tracker.take_report(data, arrived)
        return web.Response(status=200)

    async def start(self) -> str:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/delivery", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/delivery"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DeliveryReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
