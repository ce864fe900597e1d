"""The sandbox provider server: an aiohttp.web app on 127.0.0.1.

It speaks the providers' APIs faithfully enough for bulksend (or an official
SDK) to run whole campaigns against it, with per-plan buckets (``queue`` or
``reject`` mode) and injected faults. ``GET /_sandbox/stats`` tells what it
received, per plan, including how many times each number arrived
(``?numbers=1``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bulksend.serving import serve_app

if TYPE_CHECKING:
    import ssl

    from bulksend.metrics import Handler

from bulksend.sandbox import (
    classic,
    clickatell,
    clickatell_account,
    control,
    delivery,
    groups,
    inbounds,
    xms,
    xms_reports,
    xms_update,
)
from bulksend.sandbox.clock import SandboxClock
from bulksend.sandbox.config import SandboxConfig
from bulksend.sandbox.faults import drop_middleware
from bulksend.sandbox.http import json_errors
from bulksend.sandbox.state import PlanStats, SandboxState

#: Extra API modules register here: each is ``add_routes(app)``.
ROUTE_MODULES: list[Callable[[web.Application], None]] = [
    xms.add_routes, xms_update.add_routes, xms_reports.add_routes, groups.add_routes, inbounds.add_routes,
    clickatell.add_routes, clickatell_account.add_routes, classic.add_routes, control.add_routes,
]


async def _stats(request: web.Request) -> web.Response:
    with_numbers = request.query.get("numbers") in ("1", "true")
    return xms.json_response(request.app[xms.STATE].stats(with_numbers))


def _metrics(state: SandboxState) -> Handler:
    """``/metrics``: each plan's counts from ``/_sandbox/stats``, read when scraped."""
    from bulksend.metrics import counts_handler

    def read() -> dict[tuple[str, ...], float]:
        return {(plan, k): getattr(p.stats, k) for plan, p in state.plans.items()
                for k in PlanStats.__dataclass_fields__}
    return counts_handler("bulksend_sandbox", "what the sandbox received per plan (requests, "
                          "recipients, rate_limited, lookups, ...)", ["plan", "kind"], read)


async def _stop_background(app: web.Application) -> None:
    """Late accepts still waiting when the sandbox stops never happen."""
    tasks = list(app[xms.STATE].background)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def build_app(config: SandboxConfig, clock: SandboxClock | Callable[[], float] | None = None) -> web.Application:
    """``clock``: a ``SandboxClock`` or its monotonic source (default: the event loop's)."""
    app = web.Application(middlewares=[drop_middleware, json_errors], client_max_size=8 * 1024 * 1024)
    app[xms.STATE] = SandboxState(config, clock)
    app.cleanup_ctx.append(delivery.sender_context)  # delivery callbacks live with the app
    app.on_cleanup.append(_stop_background)
    app.router.add_get("/_sandbox/stats", _stats)
    app.router.add_get("/metrics", _metrics(app[xms.STATE]))
    for add_routes in ROUTE_MODULES:
        add_routes(app)
    return app


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    url: str
    app: web.Application

    @property
    def state(self) -> SandboxState:
        return self.app[xms.STATE]

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (as ``POST /_sandbox/clock`` does)."""
        self.state.clock.advance(seconds)

    def inbound(self, plan_id: str, sender: str, body: str = "STOP", **more: str) -> dict[str, object]:
        """A handset replies to ``plan_id`` (stored, and POSTed to the plan's callback)."""
        made = inbounds.send_inbound(self.app, inbounds.InboundRequest(plan_id, sender, body, **more))
        if isinstance(made, str):
            raise ValueError(made)
        return made


@contextlib.asynccontextmanager
async def running(config: SandboxConfig, port: int = 0, host: str = "127.0.0.1",
                  clock: SandboxClock | None = None,
                  ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[RunningSandbox]:
    """Run the sandbox in this event loop; ``port=0`` picks a free one; ``clock`` injects its time;
    ``ssl_context`` serves it over https (tests of TLS and proxies)."""
    app = build_app(config, clock)
    async with serve_app(app, port, host, ssl_context=ssl_context) as url:
        yield RunningSandbox(url, app)


async def serve(config: SandboxConfig, port: int, host: str = "127.0.0.1",
                ready: Callable[[str], None] | None = None) -> None:
    """Run until cancelled (the ``bulksend sandbox`` command)."""
    async with running(config, port, host) as sandbox:
        if ready is not None:
            ready(sandbox.url)
        await asyncio.Event().wait()
