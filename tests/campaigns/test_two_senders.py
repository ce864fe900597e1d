"""Two real ``bulksend send`` processes on one journal through another name of
the same file: the second is refused at once (exit 2, nothing sent), the first
finishes, and the sandbox received every recipient exactly once.

(The lock itself, against a process holding the journal open, is tested in
``tests/journal/test_journal_identity.py``; here both are real senders, as in
the issue's reproduction: 31,300 of 50,000 messaged twice through a symlink.)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from bulksend.sandbox import Faults, RunningSandbox, SandboxConfig, SandboxPlan
from tests.helpers import write_numbers

RECIPIENTS = 2000
PLAN_ID = "two"


def stats(sb: RunningSandbox) -> dict[str, int]:
    return sb.state.stats()["plans"].get(PLAN_ID, {})  # type: ignore[no-any-return]


@pytest.mark.parametrize("alias", ["symlink", "hardlink"])
async def test_a_second_sender_through_another_name_is_refused_at_once_and_no_one_is_messaged_twice(
        tmp_path: Path, sandbox, alias: str) -> None:
    slow = Faults(latency_ms=50)  # the first run takes a few seconds: the second starts while it sends
    async with sandbox(SandboxConfig(plans={PLAN_ID: SandboxPlan(rate=1e9, burst=1e9, faults=slow)})) as sb:
        config = tmp_path / "c.toml"
        config.write_text(f'[plans.p]\nprovider = "sinch_xms"\nservice_plan_id = "{PLAN_ID}"\nbase_url = "{sb.url}"\n'
                          "rate = 100000\nmax_batch = 20\nconcurrency = 2\n", encoding="utf-8")
        numbers = write_numbers(tmp_path / "n.txt", RECIPIENTS)
        real = tmp_path / "real.db"

        def send(journal: Path) -> list[str]:
            return [sys.executable, "-m", "bulksend", "send", "--plan", "p", "-r", str(numbers), "-m", "hi",
                    "--campaign", "c", "--config", str(config), "--journal", str(journal), "--no-progress"]

        first = await asyncio.create_subprocess_exec(*send(real), stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while stats(sb).get("recipients", 0) == 0 and first.returncode is None and loop.time() < deadline:
            await asyncio.sleep(0.02)
        assert 0 < stats(sb)["recipients"] < RECIPIENTS, "the first sender should be mid-campaign"

        other = tmp_path / "other.db"
        if alias == "symlink":
            other.symlink_to(real)
        else:
            os.link(real, other)
        started = time.monotonic()
        second = await asyncio.create_subprocess_exec(*send(other), stdout=asyncio.subprocess.PIPE,
                                                      stderr=asyncio.subprocess.PIPE)
        _out, err = await asyncio.wait_for(second.communicate(), 60)
        waited = time.monotonic() - started
        assert first.returncode is None, "the first sender was still sending when the second was refused"
        assert second.returncode == 2, err.decode()
        line = err.decode().strip()
        assert line.startswith(f"bulksend: journal {other}") and "\n" not in line
        assert "in use by another bulksend" in line or "has 2 names" in line, line
        assert waited < 10  # at once, not after a busy timeout (the bound is start-up time on a busy machine)

        _out, err = await asyncio.wait_for(first.communicate(), 60)
        assert first.returncode == 0, err.decode()[-2000:]
        plan = stats(sb)
    assert plan["distinct_numbers"] == RECIPIENTS and plan["numbers_received_more_than_once"] == 0
