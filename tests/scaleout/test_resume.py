"""The submitter dies or stops mid-campaign; ``resume --broker`` goes on exactly where it stopped."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bulksend.api import build_spec
from bulksend.campaigns import RunOptions, journal_settings
from bulksend.sandbox import SandboxConfig
from bulksend.scaleout.broker import Broker
from bulksend.scaleout.campaign import resume_via_broker, send_via_broker
from bulksend.scaleout.codec import Keys
from bulksend.scaleout.worker import run_worker
from tests.helpers import make_config, plan_table, write_config, write_numbers
from tests.scaleout.redis_server import RedisServer

N = 2000


def _send(config: Path, numbers: Path, journal: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", "a", "--recipients",
         str(numbers), "--message", "hi", "--campaign", "r1", "--journal", str(journal), "--broker", url,
         "--json", "--no-progress", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _resume(config: Path, journal: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulksend", "resume", "r1", "--config", str(config), "--journal", str(journal),
         "--broker", url, "--json", "--no-progress"], check=False, capture_output=True, text=True, timeout=50)


def _workers(config: Path, url: str, n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "bulksend", "worker", "--config", str(config), "--broker", url,
                              "--lease", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(15)


def _wait_for_sends(sb: Any, at_least: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sb.stats()["plans"].get("p1", {}).get("distinct_numbers", 0) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("the workers did not start sending")


def test_resume_after_the_submitter_is_killed_sends_the_rest_once(
        tmp_path: Path, redis_server: RedisServer, sandbox_process: Any) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url, rate=400, burst=20, max_batch=10, concurrency=4, timeout=1)
    numbers, journal = write_numbers(tmp_path / "l.txt", N), tmp_path / "j.db"
    workers = _workers(config, redis_server.url, 2)
    try:
        submitter = _send(config, numbers, journal, redis_server.url)
        _wait_for_sends(sb, 300)
        submitter.send_signal(signal.SIGKILL)
        submitter.wait()
        done = _resume(config, journal, redis_server.url)
    finally:
        _stop(workers)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["journal"]["state"] == "done" and result["journal"]["counts"]["accepted"] == N
    plan = sb.stats()["plans"]["p1"]
    assert plan["distinct_numbers"] == N and plan["numbers_received_more_than_once"] == 0


def test_a_stopped_submitter_has_its_queued_batches_handed_back_then_resumed(
        tmp_path: Path, redis_server: RedisServer, sandbox_process: Any) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url, rate=300, burst=10, max_batch=10, concurrency=2, timeout=1)
    numbers, journal = write_numbers(tmp_path / "l.txt", N), tmp_path / "j.db"
    workers = _workers(config, redis_server.url, 1)
    try:
        submitter = _send(config, numbers, journal, redis_server.url)
        _wait_for_sends(sb, 200)
        submitter.send_signal(signal.SIGTERM)
        out, err = submitter.communicate(timeout=30)
        assert submitter.returncode == 75, err
        stopped = json.loads(out)
        assert stopped["journal"]["state"] == "paused" and stopped["journal"]["counts"]["in_flight"] == 0
        sent_when_stopped = sb.stats()["plans"]["p1"]["distinct_numbers"]
        assert sent_when_stopped == stopped["journal"]["counts"]["accepted"] < N
        done = _resume(config, journal, redis_server.url)
    finally:
        _stop(workers)
    assert done.returncode == 0, done.stderr
    plan = sb.stats()["plans"]["p1"]
    assert plan["distinct_numbers"] == N and plan["numbers_received_more_than_once"] == 0


async def test_entries_redis_lost_are_reconciled_then_sent_again_by_resume(
        tmp_path: Path, redis_server: RedisServer, sandbox: Any) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=10, timeout=0.2)})
        spec = build_spec(plan="a", recipients=str(write_numbers(tmp_path / "l.txt", 200)), message="hi",
                          campaign="lost")
        settings = journal_settings(config, str(tmp_path / "j.db"))
        # No worker: every batch waits in Redis; then Redis loses everything.
        detached = await send_via_broker(config, spec, settings, redis_server.url, detach=True)
        assert detached.counts.in_flight == 200
        broker = Broker.connect(redis_server.url, Keys())
        await broker.redis.flushall()
        await broker.close()
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(config, redis_server.url, ["a"], stop=stop))
        done = await resume_via_broker(config, "lost", settings, redis_server.url,
                                       options=RunOptions(stop_timeout=5))
        stop.set()
        await worker
        assert done.exit_code == 0 and done.counts.accepted == 200
        assert done.reconciled["batches"] == 20 and done.reconciled["returned"] == 200  # asked first: absent
        plan = sb.state.stats()["plans"]["p1"]
        assert plan["distinct_numbers"] == 200 and plan["numbers_received_more_than_once"] == 0
        assert plan["lookups"] >= 20
