"""The engine: one transport (one ``aiohttp.ClientSession``), one ``PlanRunner`` per plan.

Different plans run independently and concurrently over the shared session;
campaigns on the same plan share its queue and bucket, in submission order.
A test passes ``transport=MockTransport(handler)`` and no socket is opened.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp

from bulksend.config import Config
from bulksend.core.chunking import effective_batch_size
from bulksend.core.estimate import BodyMeter
from bulksend.engine.calls import ProviderCalls
from bulksend.engine.campaign import CampaignRun, CampaignSpec, CampaignSummary
from bulksend.engine.ledger import Ledger, MemoryLedger
from bulksend.engine.plan import PlanRunner
from bulksend.engine.retry import Sleep
from bulksend.engine.transport import HttpTransport, Transport, open_session
from bulksend.models import Batch
from bulksend.providers import body_limit, build_provider


class Engine:
    """Sends campaigns. Use as ``async with Engine(config) as engine``."""

    def __init__(
        self,
        config: Config,
        *,
        env: Mapping[str, str] | None = None,
        sleep: Sleep = asyncio.sleep,
        connections: int = 100,
        transport: Transport | None = None,
    ) -> None:
        self.config = config
        self.env = os.environ if env is None else env
        self.sleep = sleep
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        #: given by the caller (a test's MockTransport), else made on entry over our own session
        self._given = transport
        self._transport: Transport | None = None
        self._plans: dict[str, PlanRunner] = {}
        self._producers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Engine:
        if self._given is not None:
            self._transport = self._given
        else:
            self._session = open_session(self.connections)
            self._transport = HttpTransport(self._session)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._producers:
            task.cancel()
        await asyncio.gather(*self._producers, return_exceptions=True)
        for runner in self._plans.values():
            await runner.close()
        self._plans.clear()
        self._transport = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def transport(self) -> Transport:
        """What every request of this engine goes through (only inside ``async with``)."""
        if self._transport is None:
            raise RuntimeError("use the Engine as 'async with Engine(config)'")
        return self._transport

    def calls(self, name: str) -> ProviderCalls:
        """Lookups, cancels and polls for plan ``name``, over this engine's transport."""
        return self.plan_runner(name).calls

    def plan_runner(self, name: str) -> PlanRunner:
        runner = self._plans.get(name)
        if runner is None:
            transport = self.transport
            plan = self.config.plan(name)
            runner = PlanRunner(plan, build_provider(plan, self.env), transport, self.sleep)
            runner.start()
            self._plans[name] = runner
        return runner

    def submit(
        self,
        spec: CampaignSpec,
        *,
        ledger: Ledger | None = None,
        batches: Callable[[CampaignRun], AsyncIterator[Batch]] | None = None,
    ) -> CampaignRun:
        """Start a campaign; it is queued behind earlier ones on its plan.

        ``batches`` replaces reading the recipient list (the journal uses it
        to resume); ``ledger`` records what each batch became (default: nothing).
        """
        runner = self.plan_runner(spec.plan)
        limit = runner.provider.max_batch_for(spec.message)
        size = effective_batch_size(spec.max_batch or runner.plan.max_batch, limit)
        size = min(size, runner.plan.burst)
        meter = BodyMeter(spec.message.max_parts or runner.plan.max_parts, body_limit(runner.plan.provider))
        run = CampaignRun(spec, ledger or MemoryLedger(), size, meter, runner.plan.rate,
                          auto_pause=runner.plan.auto_pause)
        task = asyncio.create_task(self._feed(runner, run, batches), name=f"producer:{spec.name}")
        self._producers.add(task)
        task.add_done_callback(self._producers.discard)
        return run

    async def _feed(
        self, runner: PlanRunner, run: CampaignRun,
        batches: Callable[[CampaignRun], AsyncIterator[Batch]] | None,
    ) -> None:
        async with runner.feed_lock:  # FIFO: campaigns feed in submission order
            await run.produce(runner.queue.put, batches(run) if batches else None)

    async def send(self, spec: CampaignSpec, **kw: object) -> CampaignSummary:
        """Submit a campaign and wait for its summary."""
        return await self.submit(spec, **kw).wait()  # type: ignore[arg-type]
