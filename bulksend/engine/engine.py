"""The engine: one transport (one ``aiohttp.ClientSession``), one ``PlanRunner`` per plan.

Each plan's requests carry its ``Route`` (TLS trust and proxy, from the
plan and the engine's environment: ``bulksend.engine.network``).

Different plans run independently and concurrently over the shared session;
campaigns on the same plan share its queue and bucket, in submission order.
A test passes ``transport=MockTransport(handler)`` and no socket is opened.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp

from bulksend.config import Config, PlanConfig
from bulksend.core.chunking import effective_batch_size
from bulksend.core.estimate import BodyMeter
from bulksend.engine.calls import ProviderCalls
from bulksend.engine.campaign import CampaignRun, CampaignSpec, CampaignSummary
from bulksend.engine.ledger import Ledger, MemoryLedger
from bulksend.engine.network import Network
from bulksend.engine.plan import PlanRunner
from bulksend.engine.retry import Sleep
from bulksend.engine.transport import HttpTransport, Transport, open_session
from bulksend.metrics import Metrics
from bulksend.metrics import current as current_metrics
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
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.env = os.environ if env is None else env
        self.sleep = sleep
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        #: given by the caller (a test's MockTransport), else made on entry over our own session
        self._given = transport
        self._transport: Transport | None = None
        #: counts requests and reads campaign stats when scraped (see bulksend.metrics)
        self.metrics = metrics if metrics is not None else current_metrics()
        #: TLS contexts (one per ca_file) and proxies, per plan
        self.network = Network(self.env)
        self._plans: dict[str, PlanRunner] = {}
        self._producers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Engine:
        if self._given is not None:
            self._transport = self._given
        else:
            self._session = open_session(self.connections, ssl_context=self.network.context())
            self._transport = HttpTransport(self._session)
        if self.metrics is not None:
            self._transport = self.metrics.metered(self._transport)
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
            plan = self.config.plan(name)
            runner = PlanRunner(plan, build_provider(plan, self.env), self._transport_for(plan), self.sleep)
            runner.start()
            self._plans[name] = runner
        return runner

    def _transport_for(self, plan: PlanConfig) -> Transport:
        """The engine's transport, with ``plan``'s route bound in (a given transport as is)."""
        transport = self.transport
        if self._session is None:
            return transport
        route = self.network.route(plan)
        # the session's defaults need no binding: the send path stays as it was
        plain = route.proxy is None and route.ssl is self.network.context()
        routed: Transport = HttpTransport(self._session, None if plain else route)
        return self.metrics.metered(routed) if self.metrics is not None else routed

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
        if self.metrics is not None:
            self.metrics.watch(run.stats, runner.bucket)
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
