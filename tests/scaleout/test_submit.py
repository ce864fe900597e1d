"""``send --broker`` in this process: the journal here, workers sending, outcomes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bulksend.api import build_spec
from bulksend.campaigns import journal_settings
from bulksend.journal import Journal, store
from bulksend.sandbox import SandboxConfig
from bulksend.scaleout.campaign import resume_via_broker, send_via_broker
from bulksend.scaleout.worker import WorkerOptions, run_worker
from tests.helpers import make_config, plan_table, write_numbers
from tests.scaleout.redis_server import RedisServer


async def test_send_through_two_workers_journals_every_outcome(
        tmp_path: Path, redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=20_000, burst=200, max_batch=25)})
        numbers = write_numbers(tmp_path / "list.txt", 1000)
        results = tmp_path / "results.csv"
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c1", results=str(results))
        settings = journal_settings(config, str(tmp_path / "j.db"))
        stop = asyncio.Event()
        workers = [asyncio.create_task(run_worker(config, redis_server.url, ["a"], WorkerOptions(), stop=stop))
                   for _ in range(2)]
        outcome = await send_via_broker(config, spec, settings, redis_server.url, window=4)
        stop.set()
        await asyncio.gather(*workers)
        assert outcome.exit_code == 0 and outcome.state == "done"
        assert outcome.summary is not None and outcome.summary.sent == 1000 and outcome.summary.requests == 40
        assert outcome.counts.accepted == 1000 and outcome.counts.in_flight == 0
        assert len(results.read_text().splitlines()) == 1001
        plan = sb.state.stats()["plans"]["p1"]
        assert plan["distinct_numbers"] == 1000 and plan["numbers_received_more_than_once"] == 0


async def test_detach_returns_once_submitted_and_resume_collects(
        tmp_path: Path, redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=10)})
        spec = build_spec(plan="a", recipients=str(write_numbers(tmp_path / "l.txt", 100)), message="hi",
                          campaign="c2")
        settings = journal_settings(config, str(tmp_path / "j.db"))
        detached = await send_via_broker(config, spec, settings, redis_server.url, detach=True)
        assert detached.exit_code == 0 and detached.state == "paused" and "detached" in detached.reason
        assert detached.counts.in_flight == 100  # no worker yet: all with Redis
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop))
        collected = await resume_via_broker(config, "c2", settings, redis_server.url)
        stop.set()
        await worker
        assert collected.exit_code == 0 and collected.state == "done" and collected.counts.accepted == 100
        plan = sb.state.stats()["plans"]["p1"]
        assert plan["distinct_numbers"] == 100 and plan["numbers_received_more_than_once"] == 0
        async with await Journal.open(settings.path) as journal:
            c = await journal.campaign("c2")
            assert c is not None and (await journal.read(store.counts, c.id)).accepted == 100


async def test_a_name_another_journal_still_has_in_redis_is_refused(
        tmp_path: Path, redis_server: RedisServer, sandbox: Any) -> None:
    import pytest

    from bulksend.errors import InputError

    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=10)})
        spec = build_spec(plan="a", recipients=str(write_numbers(tmp_path / "l.txt", 30)), message="hi",
                          campaign="same")
        first = journal_settings(config, str(tmp_path / "one.db"))
        await send_via_broker(config, spec, first, redis_server.url, detach=True)  # no worker: all queued
        second = journal_settings(config, str(tmp_path / "two.db"))
        with pytest.raises(InputError, match="another campaign named 'same'"):
            await send_via_broker(config, spec, second, redis_server.url)
        async with await Journal.open(second.path) as journal:
            assert await journal.campaign("same") is None  # refused before anything was written
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop))
        done = await resume_via_broker(config, "same", first, redis_server.url)  # its own journal goes on
        stop.set()
        await worker
        assert done.exit_code == 0 and done.counts.accepted == 30
        assert sb.state.stats()["plans"]["p1"]["numbers_received_more_than_once"] == 0
