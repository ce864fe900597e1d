"""The load tester against a real sandbox on 127.0.0.1: short, bounded runs
(a second or two each) at rates this machine sustains with the sandbox in
the same process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulksend.cli import main
from bulksend.config import PlanConfig
from bulksend.loadtest import (
    INTERRUPTED,
    Bounds,
    LoadSpec,
    RateProfile,
    Recorder,
    SearchPolicy,
    StopSignal,
    find_max,
    run_loadtest,
)
from bulksend.loadtest.delivery import DeliveryReceiver, DeliveryTracker
from bulksend.sandbox import Faults, RunningSandbox, SandboxConfig, SandboxPlan, running
from tests.helpers import make_config, plan_table

pytestmark = pytest.mark.timeout(60)

Sandbox = Callable[[SandboxConfig], contextlib.AbstractAsyncContextManager[RunningSandbox]]


def plan_for(sb: RunningSandbox, **overrides: Any) -> PlanConfig:
    return make_config({"demo": plan_table(sb.url, **overrides)}).plan("demo")


def spec(sb: RunningSandbox, rate: float, duration: float, **kw: Any) -> LoadSpec:
    return LoadSpec(plan_for(sb), RateProfile.constant(rate, duration), **kw)


async def test_achieved_rate_matches_the_target(sandbox: Sandbox) -> None:
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        result = await run_loadtest(spec(sb, 500, 2.0))
        stats = sb.state.plans["p1"].stats
    assert result.recipients_due == result.recipients_sent == 1000
    assert result.achieved_rate == pytest.approx(500, rel=0.04)
    assert result.achieved_requests_rate == result.achieved_rate  # one recipient a request
    assert result.statuses == {"201": 1000} and result.accepted == 1000 and result.dropped == 0
    assert stats.recipients == 1000
    assert result.latency.count == result.service_time.count == result.lateness.count == 1000
    assert sum(p.sent for p in result.seconds) == 1000
    assert [p.target for p in result.seconds[:2]] == [500, 500]


async def test_ramp_and_batches_count_requests_and_parts(sandbox: Sandbox) -> None:
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        two_parts = "x" * 200  # GSM-7, 160 septets a single part: 2 parts
        load = LoadSpec(plan_for(sb), RateProfile(100, 700, 2.0), batch_size=4, message=_message(two_parts))
        result = await run_loadtest(load)
    assert result.recipients_due == 800 and result.batches_sent == 200
    assert result.parts_per_message == 2
    assert result.achieved_parts_rate == pytest.approx(2 * result.achieved_rate)
    assert result.achieved_requests_rate == pytest.approx(result.achieved_rate / 4)
    first, second = result.seconds[0].target, result.seconds[1].target
    # N(t) = 100 t + 150 t²: N(1) = 250, so batches 0..62 (k*4 <= 250) are due in second 0
    assert (first, second) == (252, 548)


def _message(body: str) -> Any:
    from bulksend.models import Message
    return Message(body)


async def test_reject_mode_429s_are_counted_not_hidden(sandbox: Sandbox) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=250, burst=10, mode="reject")})
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 500, 2.0))
        stats = sb.state.plans["p1"].stats
    assert result.rate_limited == stats.rate_limited == result.statuses["429"]
    assert result.accepted == stats.recipients
    assert result.accepted + result.rate_limited == result.recipients_sent == 1000
    assert 0.35 <= result.rate_limited / 1000 <= 0.6     # about half: the plan takes 250 of 500/s
    assert result.achieved_rate == pytest.approx(500, rel=0.04)  # the generator did not slow down
    assert result.saturation is not None and result.saturation.second == 0
    assert "429" in result.saturation.reason
    assert sum(p.rate_limited for p in result.seconds) == result.rate_limited


async def test_injected_latency_shows_from_intended_time(sandbox: Sandbox) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)}, faults=Faults(latency_ms=50))
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 200, 1.0))
    assert result.accepted == 200
    assert 50 <= result.service_time.p50 < 150
    assert 50 <= result.latency.p50 < 150
    assert result.latency.p50 >= result.service_time.p50 * 0.99   # intended time is never after the send


async def test_a_slow_plan_cannot_slow_the_generator_down(sandbox: Sandbox) -> None:
    # 50 ms answers at 200/s need ~10 requests out; with a cap of 4 the rest are
    # dropped and reported, never sent late behind the slow answers.
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)}, faults=Faults(latency_ms=50))
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 200, 1.0, max_in_flight=4))
    assert result.dropped > 0
    assert result.recipients_sent + result.dropped == result.recipients_due == 200
    assert result.achieved_rate < 200 * 0.8
    assert result.generator_behind is not None and "dropped" in result.generator_behind.reason


async def test_retries_are_counted(sandbox: Sandbox) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=150, burst=5, mode="reject")})
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 300, 1.0, retries=3))
        stats = sb.state.plans["p1"].stats
    assert result.retries > 0
    assert result.requests == result.batches_sent + result.retries == stats.requests
    assert result.statuses.get("429", 0) == result.rate_limited == stats.rate_limited
    assert result.accepted + result.failed == result.recipients_sent
    assert result.accepted == stats.recipients


async def test_find_max_reports_the_plans_rate(sandbox: Sandbox) -> None:
    # A burst of 40 lets a step of 1 s pass up to 440/s with no 429; it also
    # absorbs the bunching of a generator catching up on a busy machine.
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=400, burst=40, mode="reject")})
    async with sandbox(config) as sb:
        found = await find_max(
            spec(sb, 300, 1.0),
            policy=SearchPolicy(start=300, factor=1.5, precision=0.1, max_steps=7),
            # only the plan's limits count here: this machine is shared and noisy
            bounds=Bounds(max_rate_limited=0.05, max_lateness_p99_ms=500, min_achieved=0.9),
            pause=0.1,
        )
    assert found.max_rate is not None and 340 <= found.max_rate <= 480
    assert found.first_failing is not None and found.first_failing > found.max_rate
    assert found.limited_by == "plan" and any("429" in r for r in found.reasons)
    assert 3 <= len(found.steps) <= 7
    assert found.steps[0].rate == 300 and found.steps[0].verdict.ok


async def test_two_worker_processes_split_the_schedule_and_merge(sandbox: Sandbox) -> None:
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        result = await run_loadtest(spec(sb, 400, 1.5, batch_size=2), workers=2)
        plan = sb.state.plans["p1"]
        received = plan.snapshot(with_numbers=False)
    assert result.workers == 2
    assert result.recipients_sent == result.accepted == 600 and result.batches_sent == 300
    assert received["distinct_numbers"] == 600 and received["max_receipts_per_number"] == 1
    assert result.latency.count == result.lateness.count == 300
    assert sum(p.sent for p in result.seconds) == 600
    assert result.achieved_rate == pytest.approx(400, rel=0.05)


async def test_delivery_reports_measure_the_plans_drain_rate(sandbox: Sandbox) -> None:
    # A queue-mode plan takes 300/s; 600 sent in one second drain over two.
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=300, burst=300, mode="queue")})
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 600, 1.0, batch_size=5, delivery=True, drain_timeout=6))
    assert result.accepted == result.delivered == 600 and result.undelivered == 0
    assert result.delivered_rate == pytest.approx(300, rel=0.15)
    assert result.peak_delivered_rate <= 330
    assert result.delivery_latency is not None
    assert result.delivery_latency.p99 == pytest.approx(1000, rel=0.2)   # the last waits (600-300)/300 s
    assert sum(p.delivered for p in result.seconds) == 600


async def test_receiver_takes_posted_reports() -> None:
    tracker = DeliveryTracker(Recorder(0.0, 1.0))
    tracker.batch_accepted("b1", 0.0, 3)
    report = {"type": "recipient_delivery_report_sms", "batch_id": "b1", "recipient": "46700000001",
              "code": 0, "status": "Delivered", "at": "2024-05-01T10:00:00.000Z", "client_reference": "x:1"}
    async with DeliveryReceiver(tracker, clock=lambda: 0.25) as receiver, aiohttp.ClientSession() as http:
        assert receiver.url.startswith("http://127.0.0.1:")
        async with http.post(receiver.url, json=report) as resp:
            assert resp.status == 200
        failed = {**report, "status": "Failed", "code": 402}
        async with http.post(receiver.url, json=[report, failed]) as resp:
            assert resp.status == 200
        async with http.post(receiver.url, data=b"not json") as resp:
            assert resp.status == 400
    assert tracker.outstanding == 0
    assert tracker.recorder.totals.delivered == 2 and dict(tracker.recorder.delivery_failed) == {"Failed": 1}


async def test_a_refusing_provider_stops_the_test(sandbox: Sandbox) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6, token="the-right-one")})
    async with sandbox(config) as sb:
        result = await run_loadtest(spec(sb, 200, 2.0))
    assert "refused" in result.stopped and result.statuses.get("401", 0) >= 1
    assert result.recipients_sent < 400


async def test_a_stop_signal_ends_the_run_and_keeps_the_figures(sandbox: Sandbox) -> None:
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        stop = StopSignal()
        stats = sb.state.plans["p1"].stats
        stopped_at: list[float] = []

        async def stop_after_some_arrive() -> None:
            # Triggered by what the sandbox has taken, not by wall time: on a
            # busy machine the run may need a while to get going.
            while stats.recipients < 50:
                await asyncio.sleep(0.01)
            stopped_at.append(time.monotonic())
            stop.set()

        stopper = asyncio.create_task(stop_after_some_arrive())
        result = await run_loadtest(spec(sb, 200, 10.0), stop=stop)
        stopper.cancel()
    assert stopped_at and time.monotonic() - stopped_at[0] < 3  # ends soon after the signal
    assert result.stopped == INTERRUPTED
    assert 50 <= result.recipients_sent < 2000 and result.accepted == result.recipients_sent
    # the rates are over the seconds that ran, not the 10 planned
    assert 0 < result.ran < 10 and result.target_rate == pytest.approx(200, rel=0.1)


# -- the command line (the sandbox runs in a thread: the CLI makes its own loop) --

@contextlib.contextmanager
def sandbox_thread(config: SandboxConfig) -> Iterator[RunningSandbox]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with running(config) as sb:
            box["sb"], box["stop"] = sb, asyncio.Event()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the sandbox did not start"
    try:
        yield box["sb"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "lt.toml"
    path.write_text(f'[plans.demo]\nprovider = "sinch_xms"\nservice_plan_id = "p1"\nbase_url = "{url}"\n'
                    "rate = 1000\nmax_batch = 50\n", encoding="utf-8")
    return path


def test_cli_json_and_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "run.html"
    with sandbox_thread(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        code = main(["loadtest", "-c", str(write_config(tmp_path, sb.url)), "--plan", "demo",
                     "--rate", "200", "--duration", "1", "--batch-size", "2", "--json",
                     "--report", str(report)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recipients_sent"] == 200 and data["statuses"] == {"201": 100}
    assert data["latency"]["p99"] >= data["latency"]["p50"] > 0 and "p99.9" in data["service_time"]
    html = report.read_text(encoding="utf-8")
    assert html.count("<svg") == 4 and "Rate: target vs achieved" in html  # 3 over time, 1 distribution


def test_cli_table_and_find_max(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=300, burst=30, mode="reject")})
    with sandbox_thread(config) as sb:
        path = str(write_config(tmp_path, sb.url))
        assert main(["loadtest", "-c", path, "--plan", "demo", "--rate", "100", "--duration", "0.5"]) == 0
        table = capsys.readouterr().out
        code = main(["loadtest", "-c", path, "--plan", "demo", "--find-max", "--rate", "150",
                     "--duration", "0.6", "--factor", "4", "--max-steps", "3", "--late-ms", "500",
                     "--min-achieved", "0.8", "--pause", "0.1", "--report", str(tmp_path / "fm.html")])
    assert "recipients/s" in table and "from intended time" in table and "201: " in table
    out = capsys.readouterr().out
    assert code == 0 and "find-max: highest sustainable rate" in out
    assert "Highest sustainable rate" in (tmp_path / "fm.html").read_text(encoding="utf-8")


def test_cli_refuses_generated_numbers_for_a_real_provider(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "real.toml"
    path.write_text('[plans.live]\nprovider = "sinch_xms"\nservice_plan_id = "x"\nregion = "eu"\n'
                    'token_env = "NOPE"\nrate = 10\n', encoding="utf-8")
    assert main(["loadtest", "-c", str(path), "--plan", "live", "--rate", "5", "--duration", "1"]) == 2
    assert "--recipients" in capsys.readouterr().err


def test_ctrl_c_stops_two_workers_and_still_prints_the_result(tmp_path: Path) -> None:
    with sandbox_thread(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        cmd = [sys.executable, "-m", "bulksend", "loadtest", "-c", str(write_config(tmp_path, sb.url)),
               "--plan", "demo", "--rate", "100", "--duration", "30", "--workers", "2", "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.monotonic() + 20
            while sb.state.plans.get("p1") is None or sb.state.plans["p1"].stats.requests < 50:
                assert time.monotonic() < deadline, "the workers never got going"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["stopped"] == INTERRUPTED and data["workers"] == 2
    assert 50 <= data["recipients_sent"] < 3000 and data["accepted"] == data["recipients_sent"]
