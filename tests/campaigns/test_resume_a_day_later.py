"""Resume "a day later" end to end: a real ``bulksend send`` killed with SIGKILL
while batches are in flight, the sandbox's clock moved forward, ``bulksend
resume`` in a child process whose calendar moved with it.

The sandbox keeps Sinch's batch-list window (``start_date`` defaults to now
- 24 h and may reach at most 14 days back). The plan takes every batch and
then drops the connection, and the run waits long before asking about it, so
the batches the sandbox took stay in flight in the journal until the kill.

* 25 hours later, a lookup without its own ``start_date`` would not see them
  and they would be sent again; resume must find every one and message no
  one twice.
* 15 days later, they are beyond what the provider can list: resume reports
  them unknown naming the 14-day limit and sends none of them again; only
  ``--resend-unknown`` does.

The resumed child gets its calendar moved by ``time.time`` being shifted
before bulksend is imported (the journal, the look-back and every default
clock read it); the sandbox runs in this test's event loop and is advanced
by the same amount.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from bulksend.journal import BatchState, Journal, store
from bulksend.sandbox import Faults, RunningSandbox, SandboxConfig, SandboxPlan
from tests.helpers import write_numbers

RECIPIENTS = 3000
MAX_BATCH = 100
CONCURRENCY = 6
PLAN_ID = "later"
HOUR = 3600.0
DAY = 24 * HOUR

#: runs bulksend with its calendar ``argv[1]`` seconds ahead of the machine's
SHIFTED = (
    "import sys, time\n"
    "_ahead = float(sys.argv[1]); _real = time.time\n"
    "time.time = lambda: _real() + _ahead\n"
    "sys.argv = ['bulksend', *sys.argv[2:]]\n"
    "import runpy\n"
    "runpy.run_module('bulksend', run_name='__main__', alter_sys=True)\n"
)


def write_config(path: Path, url: str) -> Path:
    # A long first retry: a batch whose answer was dropped stays in flight (taken by the
    # sandbox, unknown to the journal) until the kill.
    path.write_text(
        f'[plans.p]\nprovider = "sinch_xms"\nservice_plan_id = "{PLAN_ID}"\nbase_url = "{url}"\n'
        f'rate = 100000\nburst = 10000\nmax_batch = {MAX_BATCH}\nconcurrency = {CONCURRENCY}\ntimeout = 5\n'
        '[plans.p.retry]\nattempts = 3\ninitial = 120\nmax = 120\njitter = 0\n', encoding="utf-8")
    return path


def sandbox_config() -> SandboxConfig:
    every_answer_dropped = Faults(accept_drop_rate=1.0)
    return SandboxConfig(plans={PLAN_ID: SandboxPlan(rate=1e9, burst=1e9, faults=every_answer_dropped)}, seed=16)


def stats(sb: RunningSandbox) -> dict[str, int]:
    return sb.state.stats()["plans"][PLAN_ID]  # type: ignore[no-any-return]


def received(sb: RunningSandbox) -> dict[str, int]:
    return sb.state.stats(with_numbers=True)["plans"][PLAN_ID]["received"]  # type: ignore[no-any-return]


async def run(*argv: str, ahead: float = 0.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SHIFTED, str(ahead), *argv,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def killed_with_batches_in_flight(tmp_path: Path, sb: RunningSandbox) -> tuple[list[str], list[str]]:
    """``bulksend send`` killed once the sandbox took a batch per slot and answered none.
    Returns the numbers the sandbox took and the numbers the journal holds in flight
    (those, and batches written ahead that never left)."""
    numbers = write_numbers(tmp_path / "numbers.txt", RECIPIENTS)
    config = write_config(tmp_path / "c.toml", sb.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bulksend", "send", "--plan", "p", "-r", str(numbers), "-m", "hi", "--campaign", "c",
        "--config", str(config), "--journal", str(tmp_path / "j.db"), "--no-progress",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while stats(sb)["accept_drops"] < CONCURRENCY and proc.returncode is None and loop.time() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # any further batch would have to wait for a slot: there is none
    assert proc.returncode is None, (proc.returncode, (await proc.communicate())[1].decode()[-2000:])
    proc.send_signal(signal.SIGKILL)
    await proc.communicate()
    assert stats(sb)["accept_drops"] == stats(sb)["batches"] == CONCURRENCY  # taken, never answered
    taken = sorted(received(sb))

    async with await Journal.open(tmp_path / "j.db", readonly=True) as journal:
        campaign = await journal.campaign("c")
        assert campaign is not None
        rows = await journal.read(store.batches_in, campaign.id, (BatchState.IN_FLIGHT,))
        in_flight = []
        for row in rows:
            in_flight += [m for _id, m, _params in await journal.read(store.members, campaign.id, row.seq,
                                                                       row.lo, row.hi)]
    # Batches written ahead are in flight too: the journal cannot tell which of them left.
    assert set(taken) <= set(in_flight) and len(taken) == CONCURRENCY * MAX_BATCH
    sb.state.plans[PLAN_ID].faults = Faults()  # from now on the provider answers
    return taken, sorted(in_flight)


def common(tmp_path: Path) -> list[str]:
    return ["--config", str(tmp_path / "c.toml"), "--journal", str(tmp_path / "j.db"), "--no-progress"]


async def test_resumed_25_hours_later_with_batches_in_flight_no_one_is_messaged_twice(tmp_path: Path, sandbox) -> None:
    async with sandbox(sandbox_config()) as sb:
        taken, in_flight = await killed_with_batches_in_flight(tmp_path, sb)
        sb.advance(25 * HOUR)
        code, out, err = await run("resume", "c", *common(tmp_path), "--json", ahead=25 * HOUR)
        assert code == 0, err[-2000:]
        got = received(sb)
    assert len(got) == RECIPIENTS and max(got.values()) == 1  # everyone, exactly once
    summary = json.loads(out)
    assert summary["journal"]["state"] == "done" and summary["journal"]["counts"]["accepted"] == RECIPIENTS
    async with await Journal.open(tmp_path / "j.db", readonly=True) as journal:
        campaign = await journal.campaign("c")
        assert campaign is not None
        settled = await journal.read(store.batches_in, campaign.id, (BatchState.ACCEPTED, BatchState.RETURNED))
    # Found by asking (what the sandbox took), sent again only what it said it did not have.
    assert sum(b.size for b in settled if b.code == "reconciled") == len(taken)
    assert sum(b.size for b in settled if b.code == "absent") == len(in_flight) - len(taken)


async def test_resumed_15_days_later_the_batches_in_flight_stay_unknown_until_resend_unknown(
        tmp_path: Path, sandbox) -> None:
    async with sandbox(sandbox_config()) as sb:
        taken, in_flight = await killed_with_batches_in_flight(tmp_path, sb)
        sb.advance(15 * DAY)
        sends_before = stats(sb)["requests"]
        code, _out, err = await run("resume", "c", *common(tmp_path), ahead=15 * DAY)
        assert code == 1, (code, err[-2000:])
        assert "14 days" in err and "--resend-unknown" in err and f"{len(in_flight):,} recipients" in err, err
        got = received(sb)
        assert sorted(got) == taken and max(got.values()) == 1  # none of the batches in flight sent again
        assert len(got) == RECIPIENTS - len(in_flight) + len(taken)  # the rest went out once
        assert stats(sb)["requests"] - sends_before == (RECIPIENTS - len(in_flight)) // MAX_BATCH

        code, _out, err = await run("resume", "c", *common(tmp_path), "--resend-unknown", ahead=15 * DAY + HOUR)
        assert code == 0, (code, err[-2000:])
        got = received(sb)
    assert sorted(n for n, times in got.items() if times == 2) == taken  # what the operator asked for
    assert len(got) == RECIPIENTS and max(got.values()) == 2
