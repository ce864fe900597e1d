"""The whole loop on 127.0.0.1: engine → sandbox → delivery callbacks → listen → store."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from bulksend.providers import parse_config
from bulksend.delivery import DeliveryLedger, DeliveryStatus, SqliteDeliveryStore, delivery_summary
from bulksend.engine import CampaignSpec, Engine, MemoryLedger
from bulksend.models import DeliveryReport, Message
from bulksend.recipients import RecipientSource
from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from bulksend.sandbox.config import DeliverySim
from bulksend.sandbox.delivery import fate, sender_of
from bulksend.webhooks import build_listener, listening
from tests.helpers import plan_table, write_numbers

FAST = {"initial": 0.01, "max": 0.1, "jitter": 0.01, "attempts": 10}
SIM = DeliverySim(failed_rate=0.2, expired_rate=0.1, delay=0.02, delay_jitter=0.1, retry_initial=0.05)
EXPECTED = {"Delivered": DeliveryStatus.DELIVERED, "Failed": DeliveryStatus.FAILED,
            "Expired": DeliveryStatus.EXPIRED}


async def test_xms_per_recipient_loop_one_final_status_each(tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    sandbox = SandboxConfig(plans={"p1": SandboxPlan(callback_secret="cb-secret")}, delivery=SIM, seed=11)
    async with running(sandbox) as sb, SqliteDeliveryStore(tmp_path / "d.db") as store:
        config = parse_config({"plans": {"a": plan_table(sb.url, callback_secret_env="CB", retry=FAST)}})
        app = build_listener(config, store, env={"CB": "cb-secret"})
        async with listening(app) as lst:
            message = Message("Hi", delivery_report=DeliveryReport.PER_RECIPIENT_FINAL,
                              callback_url=lst.callback_url("a"))
            spec = CampaignSpec("loop", "a", message, RecipientSource(str(numbers)))
            async with Engine(config) as engine:
                summary = await engine.send(spec, ledger=DeliveryLedger(MemoryLedger(), store))
            sender = sender_of(sb.app)
            assert sender is not None
            await asyncio.wait_for(sender.drained(), 20)
            listen_stats = lst.stats
        reports = await store.reports_of("loop")
        ds = await delivery_summary(store, "loop")
        batches = {r.id: r for r in sb.state.plans["p1"].batches.values()}
    assert summary.sent == 1000
    assert len(reports) == 1000 and len({r.msisdn for r in reports}) == 1000
    assert all(r.status.final for r in reports)
    # Each stored status is the one the sandbox decided for that recipient.
    for r in reports:
        decided = fate(11, r.provider_id, r.msisdn, SIM)
        assert r.status is EXPECTED[decided.status] and r.provider_id in batches
    counts = Counter(r.status for r in reports)
    assert ds["delivered"] == counts[DeliveryStatus.DELIVERED] > 500
    assert ds["failed"] == counts[DeliveryStatus.FAILED] + counts[DeliveryStatus.EXPIRED]
    assert ds["pending"] == 0 and ds["accepted"] == 1000
    latency = ds["latency_s"]
    assert latency["count"] == ds["delivered"] and 0 <= latency["p50"] <= latency["p99"] < 5
    assert listen_stats.unauthorized == 0 and listen_stats.stored_reports == 1000


async def test_xms_full_batch_reports_store_every_listed_recipient(tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    sandbox = SandboxConfig(plans={"p1": SandboxPlan()}, delivery=SIM, seed=4)
    async with running(sandbox) as sb, SqliteDeliveryStore(tmp_path / "d.db") as store:
        config = parse_config({"plans": {"a": plan_table(sb.url, retry=FAST)}})
        async with listening(build_listener(config, store, env={})) as lst:
            message = Message("Hi", delivery_report=DeliveryReport.FULL, callback_url=lst.callback_url("a"))
            spec = CampaignSpec("full", "a", message, RecipientSource(str(numbers)))
            async with Engine(config) as engine:
                await engine.send(spec, ledger=DeliveryLedger(MemoryLedger(), store))
            sender = sender_of(sb.app)
            assert sender is not None
            await asyncio.wait_for(sender.drained(), 20)
        reports = await store.reports_of("full")
    assert len(reports) == 300 and all(r.status.final for r in reports)


async def test_clickatell_status_callbacks_resolve_by_message_id(tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 400, start=27_990_000_000)
    listen_config = parse_config({"plans": {"ct": {"provider": "clickatell", "base_url": "http://127.0.0.1:1",
                                                   "rate": 1000, "callback_secret_env": "CB"}}})
    async with SqliteDeliveryStore(tmp_path / "d.db") as store, \
            listening(build_listener(listen_config, store, env={"CB": "pw"})) as lst:
        plans = {"ct": SandboxPlan(callback_url=lst.callback_url("ct"), callback_secret="pw", reject_suffix="17")}
        async with running(SandboxConfig(plans=plans, delivery=SIM, seed=8)) as sb:
            config = parse_config({"plans": {"ct": {
                "provider": "clickatell", "base_url": f"{sb.url}/clickatell/ct", "rate": 100_000,
                "burst": 1000, "max_batch": 200, "retry": FAST}}})
            message = Message("Hi", delivery_report=DeliveryReport.PER_RECIPIENT)
            spec = CampaignSpec("ct-loop", "ct", message, RecipientSource(str(numbers)))
            async with Engine(config) as engine:
                summary = await engine.send(spec, ledger=DeliveryLedger(MemoryLedger(), store))
            sender = sender_of(sb.app)
            assert sender is not None
            await asyncio.wait_for(sender.drained(), 20)
        reports = await store.reports_of("ct-loop")
        ds = await delivery_summary(store, "ct-loop")
    assert summary.sent == 396 and summary.failed == 4  # the 4 numbers ending 17 were never accepted
    assert len(reports) == 396 and all(r.status.final for r in reports)
    assert ds["pending"] == 0 and ds["delivered"] + ds["failed"] == 396
    assert {r.provider_status for r in reports} <= {"004", "007", "010"}


async def test_classic_polling_with_track(tmp_path: Path) -> None:
    from bulksend.delivery.tracker import track_campaign

    numbers = write_numbers(tmp_path / "n.txt", 60)
    env = {"K": "key", "S": "BeIukql3pTKJ8RGL5zo0DA=="}
    sandbox = SandboxConfig(plans={"cl": SandboxPlan(key="key", secret=env["S"])},
                            delivery=DeliverySim(failed_rate=0.3, delay=0.2), seed=2)
    async with running(sandbox) as sb, SqliteDeliveryStore(tmp_path / "d.db") as store:
        config = parse_config({"plans": {"cl": {
            "provider": "sinch_classic", "base_url": f"{sb.url}/classic/cl", "key_env": "K", "secret_env": "S",
            "rate": 50, "burst": 10, "max_batch": 1, "concurrency": 8, "retry": FAST}}})
        spec = CampaignSpec("poll", "cl", Message("Hi"), RecipientSource(str(numbers)))
        async with Engine(config, env=env) as engine:
            await engine.send(spec, ledger=DeliveryLedger(MemoryLedger(), store))
        # Straight away, most are still pending (the sandbox delivers 0.2 s after dispatch).
        early = await track_campaign(config, store, "poll", "cl", env=env)
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        late = await track_campaign(config, store, "poll", "cl", env=env)
        took = loop.time() - started
        again = await track_campaign(config, store, "poll", "cl", env=env)
        ds = await delivery_summary(store, "poll")
        lookups = sb.state.plans["cl"].stats.lookups
    assert early.candidates == 60 and early.requests == 60
    assert late.candidates == 60 - early.final and late.final == late.candidates
    # Polls are paced by the plan: 10 at once, then 50/s.
    assert took >= (late.requests - 10) / 50 * 0.8
    assert again.candidates == 0 and again.requests == 0
    assert ds["pending"] == 0 and ds["delivered"] + ds["failed"] == 60 and 5 < ds["failed"] < 35
    assert lookups == early.requests + late.requests


async def test_xms_polling_one_request_per_batch(tmp_path: Path) -> None:
    from bulksend.delivery.tracker import track_campaign

    numbers = write_numbers(tmp_path / "n.txt", 500)
    fast = SandboxPlan(rate=1e6, burst=1e6)
    async with running(SandboxConfig(plans={"p1": fast}, delivery=SIM, seed=1)) as sb, \
            SqliteDeliveryStore(tmp_path / "d.db") as store:
        config = parse_config({"plans": {"a": plan_table(sb.url, retry=FAST)}})
        async with Engine(config) as engine:
            await engine.send(CampaignSpec("xp", "a", Message("Hi"), RecipientSource(str(numbers))),
                              ledger=DeliveryLedger(MemoryLedger(), store))
        await asyncio.sleep(0.2)  # past delay + jitter
        result = await track_campaign(config, store, "xp", "a")
        ds = await delivery_summary(store, "xp")
    assert result.requests == 5 and result.final == 500
    assert ds["pending"] == 0 and ds["latency_s"] == {"count": 0}  # polled reports carry no time


