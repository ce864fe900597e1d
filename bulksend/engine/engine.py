"""The engine: one ``aiohttp.ClientSession``, one ``PlanRunner`` per plan.

Different plans run independently and concurrently over the shared session;
campaigns on the same plan share its queue and bucket, in submission order.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp

from bulksend.config import Config
from bulksend.core.chunking import effective_batch_size
from bulksend.core.estimate import BodyMeter
from bulksend.engine.campaign import CampaignRun, CampaignSpec, CampaignSummary
from bulksend.engine.ledger import Ledger, MemoryLedger
from bulksend.engine.plan import PlanRunner
from bulksend.engine.retry import Sleep
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
    ) -> None:
        self.config = config
        self.env = os.environ if env is None else env
        self.sleep = sleep
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._plans: dict[str, PlanRunner] = {}
        self._producers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Engine:
        # Verification stays on (the default context); loopback sandboxes speak plain http.
        connector = aiohttp.TCPConnector(limit=self.connections, ssl=ssl.create_default_context())
        self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": "bulksend/0.1"})
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    def plan_runner(self, name: str) -> PlanRunner:
        runner = self._plans.get(name)
        if runner is None:
            if self._session is None:
                raise RuntimeError("use the Engine as 'async with Engine(config)'")
            plan = self.config.plan(name)
            runner = PlanRunner(plan, build_provider(plan, self.env), self._session, self.sleep)
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
