"""Pausing: Ctrl-C / SIGTERM (a real subprocess), the stop bound, auto-pause."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from bulksend.api import build_spec
from bulksend.engine.campaign import EXIT_FAILED, EXIT_OK, EXIT_RESUMABLE
from bulksend.journal import JournalSettings, RunOptions, resume_campaign, send_journaled
from bulksend.sandbox import Faults, SandboxConfig
from tests.helpers import make_config, plan_table, write_numbers

PLAN_ID = "pause"


def write_config(path: Path, url: str, rate: int = 4000) -> Path:
    path.write_text(
        f'[plans.p]\nprovider = "sinch_xms"\nservice_plan_id = "{PLAN_ID}"\nbase_url = "{url}"\n'
        f'rate = {rate}\nburst = 400\nmax_batch = 200\nconcurrency = 4\ntimeout = 3\n'
        '[plans.p.retry]\ninitial = 0.01\nmax = 0.2\njitter = 0.01\n', encoding="utf-8")
    return path


def stats(sb: Any) -> dict[str, Any]:
    return dict(sb.state.stats()["plans"].get(PLAN_ID, {"recipients": 0}))


async def start(cmd: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bulksend", *cmd,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def until_received(sb: Any, count: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while stats(sb)["recipients"] < count:
        assert loop.time() < deadline, "the sandbox never got that far"
        await asyncio.sleep(0.01)


async def test_sigint_pauses_with_exit_75_and_resume_finishes_exactly_once(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 20_000)
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        common = ["--config", str(write_config(tmp_path / "c.toml", sb.url)), "--journal",
                  str(tmp_path / "j.db"), "--json", "--no-progress"]
        proc = await start(["send", "--plan", "p", "-r", str(numbers), "-m", "hi", "--campaign", "c", *common])
        await until_received(sb, 2000)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == EXIT_RESUMABLE, err.decode()
        paused = json.loads(out)
        assert paused["journal"]["state"] == "paused" and paused["journal"]["reason"] == "stopped by SIGINT"
        assert paused["journal"]["counts"]["in_flight"] == 0  # the batches in flight finished and were recorded
        assert 2000 <= paused["journal"]["counts"]["accepted"] < 20_000
        proc = await start(["resume", "c", *common])
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == EXIT_OK, err.decode()
        s = stats(sb)
    assert json.loads(out)["journal"]["counts"]["accepted"] == 20_000
    assert s["distinct_numbers"] == 20_000 and s["numbers_received_more_than_once"] == 0


async def test_the_stop_bound_and_a_second_signal_leave_batches_in_flight_for_resume(
        tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 3000)
    slow = SandboxConfig(open_plans=True).with_faults(latency_ms=2500)
    async with sandbox(slow) as sb:
        common = ["--config", str(write_config(tmp_path / "c.toml", sb.url, rate=100_000)), "--journal",
                  str(tmp_path / "j.db"), "--json", "--no-progress"]
        loop = asyncio.get_running_loop()
        # The bound: one SIGTERM, a 0.3 s grace, then the batches in flight are left to resume.
        proc = await start(["send", "--plan", "p", "-r", str(numbers), "-m", "hi", "--campaign", "c",
                            "--stop-timeout", "0.3", *common])
        await until_requests(sb, 4)
        proc.send_signal(signal.SIGTERM)
        began = loop.time()
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == EXIT_RESUMABLE, err.decode()
        assert loop.time() - began < 2.0  # not the 2.5 s the sandbox takes to answer
        first = json.loads(out)["journal"]
        assert first["reason"] == "stopped by SIGTERM" and first["counts"]["in_flight"] == 800
        # A second SIGINT stops waiting at once, whatever --stop-timeout says.
        proc = await start(["resume", "c", "--stop-timeout", "60", *common])
        await until_requests(sb, 8)
        proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        began = loop.time()
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == EXIT_RESUMABLE, err.decode()
        assert loop.time() - began < 2.0
        sb.state.plans[PLAN_ID].faults = Faults()  # new requests are answered at once
        proc = await start(["resume", "c", *common])
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == EXIT_OK, err.decode()
        s = stats(sb)
    assert json.loads(out)["journal"]["counts"]["accepted"] == 3000
    assert s["distinct_numbers"] == 3000 and s["numbers_received_more_than_once"] == 0


async def until_requests(sb: Any, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while stats(sb).get("requests", 0) < count:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)


async def test_auto_pause_stops_a_failing_campaign_and_resume_goes_on(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 50_000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True, seed=1).with_faults(error_rate=1.0)) as sb:
        config = make_config({"a": plan_table(
            sb.url, service_plan_id=PLAN_ID, max_batch=100, concurrency=1,
            retry={"attempts": 1}, auto_pause={"window": 5, "max_error_rate": 0.5})})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        paused = await send_journaled(config, spec, settings)
        assert paused.exit_code == EXIT_RESUMABLE and paused.state == "paused"
        assert paused.reason.startswith("auto-paused: 5 of the last 5 batches failed or ended unknown")
        # It did not burn the list: the window, plus at most the batch sent while the fifth was recorded.
        # The list is read as it is sent: the journal holds what was read so far, nothing was lost.
        c = paused.counts
        assert 500 <= c.failed <= 600 and c.pending == c.total - c.failed and c.total < 50_000
        sb.state.plans[PLAN_ID].faults = Faults()  # the operator fixed the cause
        done = await resume_campaign(config, "c", settings)
        assert done.exit_code == EXIT_FAILED and done.state == "done"  # the 500 failed stay failed...
        assert done.counts.failed == paused.counts.failed
        assert done.counts.accepted == 50_000 - paused.counts.failed
        retried = await resume_campaign(config, "c", settings, options=RunOptions(retry_failed=True))
        s = stats(sb)
    assert retried.exit_code == EXIT_OK and retried.counts.accepted == 50_000  # ...until asked for
    assert s["distinct_numbers"] == 50_000 and s["numbers_received_more_than_once"] == 0


def test_auto_pause_window_slides_over_the_last_batches(tmp_path: Path) -> None:
    from bulksend.config import AutoPauseConfig
    from bulksend.engine import CampaignRun, CampaignSpec, MemoryLedger
    from bulksend.models import BatchResult, Message, Outcome, Status
    from bulksend.recipients import RecipientSource

    spec = CampaignSpec("w", "a", Message("hi"), RecipientSource(str(tmp_path / "n.txt")))
    run = CampaignRun(spec, MemoryLedger(), 10, auto_pause=AutoPauseConfig(window=4, max_error_rate=0.5))
    ok, bad = BatchResult(Outcome(Status.ACCEPTED)), BatchResult(Outcome(Status.FAILED, code="503"))
    # Two bad in every four never pauses (0.5 is not over 0.5), however long it goes on.
    for result in [bad, ok, bad, ok] * 5 + [ok, bad]:
        run._watch(result)
    assert not run.stopping
    run._watch(bad)  # the last four: ok, ok, bad, bad
    assert not run.stopping
    run._watch(bad)  # ok, bad, bad, bad: three of four
    assert run.stopping and run.auto_paused
    assert run.stopped_reason.startswith("auto-paused: 3 of the last 4 batches failed or ended unknown")
