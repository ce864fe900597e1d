"""Workers in this process against the real sandbox and a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from bulksend.models import Batch, Message, Numbers, Status
from bulksend.sandbox import SandboxConfig
from bulksend.scaleout.broker import Broker
from bulksend.scaleout.codec import (
    RESULT,
    SKIPPED,
    CampaignMeta,
    Keys,
    decode_report,
    encode_batch,
)
from bulksend.scaleout.worker import WorkerOptions, run_worker
from tests.helpers import make_config, plan_table
from tests.scaleout.redis_server import RedisServer


async def _submit(broker: Broker, campaign: str, batches: int, size: int) -> None:
    await broker.open_campaign(CampaignMeta(campaign, "a", Message("hello")))
    for seq in range(batches):
        numbers = Numbers([str(46_700_000_000 + seq * size + i) for i in range(size)])
        await broker.submit("a", campaign, seq, encode_batch(Batch(campaign, seq, numbers)))


async def _outcomes(broker: Broker, campaign: str, want: int) -> list[Any]:
    got: list[Any] = []
    after = "0"
    for _ in range(200):
        rows = await broker.outcomes(campaign, after, block_ms=100)
        for entry_id, fields in rows:
            after = entry_id
            got.append(decode_report(fields))
        if len(got) >= want:
            break
    return got


async def test_two_workers_send_every_batch_once(redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=5000, burst=100)})
        broker = Broker.connect(redis_server.url, Keys())
        await _submit(broker, "c1", batches=40, size=10)
        stop = asyncio.Event()
        workers = [asyncio.create_task(run_worker(config, redis_server.url, ["a"], WorkerOptions(), stop=stop))
                   for _ in range(2)]
        reports = await _outcomes(broker, "c1", 40)
        stop.set()
        stats = await asyncio.gather(*workers)
        await broker.close()
        assert sorted(r.seq for r in reports) == list(range(40))
        assert all(r.kind == RESULT and r.result.outcome.status is Status.ACCEPTED for r in reports)
        assert all(s.finished > 0 for s in stats)  # both took a share
        plan = sb.state.stats()["plans"]["p1"]
        assert plan["distinct_numbers"] == 400 and plan["numbers_received_more_than_once"] == 0


async def test_a_stopped_campaigns_batches_are_skipped_not_sent(redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        broker = Broker.connect(redis_server.url, Keys())
        await _submit(broker, "c2", batches=5, size=3)
        await broker.stop_campaign("c2")
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop))
        reports = await _outcomes(broker, "c2", 5)
        stop.set()
        await worker
        await broker.close()
        assert sorted(r.seq for r in reports) == list(range(5)) and {r.kind for r in reports} == {SKIPPED}
        assert sb.state.stats()["plans"].get("p1", {}).get("distinct_numbers", 0) == 0


async def test_a_dead_workers_batches_are_reconciled_before_any_resend(
        redis_server: RedisServer, sandbox: Any) -> None:
    from bulksend.engine import CampaignRun, CampaignSpec, Engine, MemoryLedger
    from bulksend.scaleout.codec import decode_batch
    from bulksend.scaleout.gcra import Pace

    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, timeout=0.2)})
        broker = Broker.connect(redis_server.url, Keys())
        await _submit(broker, "c3", batches=2, size=4)
        await broker.ensure_group("a")
        # A worker that took both batches, sent the first, and died.
        first = await broker.take("a", "ghost", Pace(1000, 100))
        second = await broker.take("a", "ghost", Pace(1000, 100))
        assert first is not None and second is not None
        async with Engine(config) as engine:
            run = CampaignRun(CampaignSpec("c3", "a", Message("hello")), MemoryLedger(), 4)
            result, _ = await engine.plan_runner("a").sender.deliver(decode_batch(first.fields), run)
        assert result.outcome.status is Status.ACCEPTED
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"],
                                                WorkerOptions(lease=0.3), stop=stop))
        reports = {r.seq: r for r in await _outcomes(broker, "c3", 2)}
        stop.set()
        stats = await worker
        await broker.close()
        assert stats.reclaimed == 2
        assert reports[0].result.outcome.provider_id == result.outcome.provider_id  # found, not sent again
        assert reports[0].requests == 0 and reports[0].lookups >= 1
        assert reports[1].result.outcome.status is Status.ACCEPTED and reports[1].requests == 1
        plan = sb.state.stats()["plans"]["p1"]
        assert plan["distinct_numbers"] == 8 and plan["numbers_received_more_than_once"] == 0


async def test_sigterm_drains_held_batches_finish_the_rest_stay_queued(
        redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=50, burst=10, max_batch=10, concurrency=2)})
        broker = Broker.connect(redis_server.url, Keys())
        await _submit(broker, "c4", batches=20, size=10)
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop))
        await asyncio.sleep(0.5)
        stop.set()
        stats = await worker
        left = await broker.backlog("a")
        pending = await broker.redis.xpending(broker.keys.stream("a"), "workers")
        reports = await _outcomes(broker, "c4", stats.finished)
        await broker.close()
        assert 0 < stats.finished < 20 and stats.handed_back == 0
        assert left == 20 - stats.finished and pending["pending"] == 0  # nothing held by the stopped worker
        assert sorted(r.seq for r in reports) == list(range(stats.finished))
        assert sb.state.stats()["plans"]["p1"]["distinct_numbers"] == 10 * stats.finished


async def test_a_workers_metrics_are_served_with_the_engines(redis_server: RedisServer, sandbox: Any) -> None:
    import aiohttp

    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        broker = Broker.connect(redis_server.url, Keys())
        await _submit(broker, "c9", batches=4, size=5)
        stop, urls = asyncio.Event(), []
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop, metrics_port=0,
                                                announce=urls.append))
        assert len(await _outcomes(broker, "c9", 4)) == 4
        async with aiohttp.ClientSession() as session, session.get(urls[0]) as response:
            text = await response.text()
        stop.set()
        await worker
        await broker.close()
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert urls[0].startswith("http://127.0.0.1:") and urls[0].endswith("/metrics")
    assert float(lines['bulksend_worker_finished_total{plan="a"}']) == 4
    assert float(lines['bulksend_worker_taken_total{plan="a"}']) == 4
    assert float(lines['bulksend_worker_redis_calls_total{script="TAKE"}']) >= 4
    assert float(lines['bulksend_requests_total{status="201"}']) == 4  # the engine's transport, counted
    assert 'bulksend_worker_booked_wait_seconds{plan="a",quantile="0.99",size="5"}' in lines
