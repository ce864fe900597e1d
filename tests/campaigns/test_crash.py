"""Crash test: ``bulksend send`` killed with SIGKILL again and again, resumed each time.

The sandbox runs in this test's event loop; bulksend runs as a real
subprocess against it, so a kill is a real crash (no finally blocks, no
flush), with the sandbox dropping connections before and after taking
batches. Whatever the moments of the kills, the sandbox must have received
every recipient exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
from pathlib import Path

from bulksend.journal import BatchState, Journal, store
from bulksend.sandbox import SandboxConfig
from tests.helpers import write_numbers

RECIPIENTS = 60_000
PLAN_ID = "crash"


def write_config(path: Path, url: str) -> Path:
    path.write_text(
        f'[plans.p]\nprovider = "sinch_xms"\nservice_plan_id = "{PLAN_ID}"\nbase_url = "{url}"\n'
        'rate = 15000\nburst = 2000\nmax_batch = 500\nconcurrency = 8\ntimeout = 1.5\n'
        '[plans.p.retry]\nattempts = 20\ninitial = 0.01\nmax = 0.2\njitter = 0.01\n', encoding="utf-8")
    return path


async def _received(sb: object) -> int:
    plans = sb.state.stats()["plans"]  # type: ignore[attr-defined]
    return int(plans.get(PLAN_ID, {}).get("recipients", 0))


async def _kill_when(proc: asyncio.subprocess.Process, sb: object, rng: random.Random,
                     time_based: bool) -> bool:
    """SIGKILL at a seeded moment; False if the process ended first."""
    loop = asyncio.get_running_loop()
    if time_based:  # anywhere: start-up, staging, reconciling, sending
        moment = loop.time() + rng.uniform(0.2, 1.5)
    else:  # once this process has sent something, a little later
        start = await _received(sb)
        moment = loop.time() + 20.0
        while loop.time() < moment and proc.returncode is None:
            if await _received(sb) > start:
                moment = loop.time() + rng.uniform(0.0, 0.6)
                break
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(proc.wait(), max(0.0, moment - loop.time()))
        return False
    except asyncio.TimeoutError:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return True


async def test_sigkill_at_random_moments_then_resume_sends_everyone_exactly_once(tmp_path: Path, sandbox) -> None:
    rng = random.Random(20261122)
    numbers = write_numbers(tmp_path / "numbers.txt", RECIPIENTS)
    # Latency keeps a batch or two in flight at any moment, so kills leave some to reconcile.
    faults = SandboxConfig(open_plans=True, seed=5).with_faults(
        accept_drop_rate=0.02, drop_rate=0.02, error_rate=0.01, latency_ms=30, latency_jitter_ms=40)
    async with sandbox(faults) as sb:
        config = write_config(tmp_path / "c.toml", sb.url)
        common = ["--config", str(config), "--journal", str(tmp_path / "journal.db"), "--no-progress", "--json"]
        send = [sys.executable, "-m", "bulksend", "send", "--plan", "p", "-r", str(numbers), "-m", "hi",
                "--campaign", "crash", *common]
        resume = [sys.executable, "-m", "bulksend", "resume", "crash", *common]
        kills = mid_campaign = 0
        runs = []
        for attempt in range(20):
            # 'send' of a known name goes on too. 'resume' needs the campaign to
            # exist: on a slow machine the first kills can land before it does.
            started_sending = await _received(sb) > 0
            cmd = resume if started_sending and attempt not in (0, 3) else send
            proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
            before = await _received(sb)
            killed = kills < 6 and await _kill_when(proc, sb, rng, time_based=kills < 2)
            out, err = await proc.communicate()
            after = await _received(sb)
            runs.append((attempt, proc.returncode, before, after))
            if killed:
                kills += 1
                mid_campaign += 0 < after < RECIPIENTS and after > before
                continue
            assert proc.returncode == 0, (proc.returncode, err.decode()[-2000:], runs)
            final = json.loads(out)
            break
        else:
            raise AssertionError(f"never finished: {runs}")
    stats = sb.state.stats()["plans"][PLAN_ID]
    assert stats["distinct_numbers"] == RECIPIENTS, runs
    assert stats["numbers_received_more_than_once"] == 0, runs
    assert stats["accept_drops"] > 0 and stats["drops"] > 0  # the faults did happen
    assert kills == 6 and mid_campaign >= 3, runs
    assert final["journal"]["state"] == "done"
    assert final["journal"]["counts"]["accepted"] == RECIPIENTS
    assert final["journal"]["counts"]["pending"] == final["journal"]["counts"]["in_flight"] == 0
    # Kills left batches in flight; resumes settled them by asking the sandbox.
    async with await Journal.open(tmp_path / "journal.db", readonly=True) as journal:
        campaign = await journal.campaign("crash")
        assert campaign is not None
        settled = await journal.read(store.batches_in, campaign.id, (BatchState.ACCEPTED, BatchState.RETURNED))
    found = sum(1 for b in settled if b.code == "reconciled")
    absent = sum(1 for b in settled if b.code == "absent")
    assert found + absent > 0, runs
