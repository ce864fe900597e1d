"""``loadtest`` stops at ``--duration`` whatever the rate (issue 16, item 11).

At ``--rate 1e9 --duration 1`` the schedule has a billion batches. The
generator used to walk every one of them (fire or drop), so the run went on
long past its duration; now, once the time is up, what is left is counted as
due and dropped per second in one step, and the figures still add up.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.loadtest import LoadSpec, RateProfile, summarize
from bulksend.loadtest.runner import run_worker
from bulksend.loadtest.schedule import Schedule
from bulksend.sandbox import RunningSandbox, SandboxConfig, SandboxPlan
from tests.helpers import make_config, plan_table
from tests.loadtest.test_loadtest_sandbox import sandbox_thread, write_config

pytestmark = pytest.mark.timeout(60)  # a hang guard, not a speed check

Sandbox = Callable[[SandboxConfig], contextlib.AbstractAsyncContextManager[RunningSandbox]]
BILLION = 1_000_000_000


class SlowGenerator:
    """A clock that moves ``step`` seconds every time it is read: a generator that
    needs that long per look at the clock, far slower than the schedule asks."""

    def __init__(self, step: float = 0.001) -> None:
        self.now = 1000.0
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def walked(schedule: Schedule, worker: int, workers: int, first: int) -> list[int]:
    """``owned_per_second`` the slow way: every batch's due time, one by one."""
    counts = [0] * len(schedule.due_per_second())
    for k in schedule.owned_by(worker, workers):
        if k >= first:
            counts[min(len(counts) - 1, int(schedule.due(k)))] += 1
    return counts


@pytest.mark.parametrize("profile, batch", [
    (RateProfile.constant(1000, 3), 7),
    (RateProfile(10, 400, 4.5), 3),     # a ramp up, a fractional last second
    (RateProfile(500, 20, 2), 1),       # a ramp down
    (RateProfile.constant(0.5, 1), 10),  # fewer recipients than one batch
])
@pytest.mark.parametrize("workers", [1, 3])
def test_batches_left_per_second_are_counted_without_walking_them(profile: RateProfile, batch: int,
                                                                  workers: int) -> None:
    schedule = Schedule(profile, batch)
    for worker in range(workers):
        for first in (0, worker, schedule.batches // 2, schedule.batches - 1, schedule.batches):
            counted = schedule.owned_per_second(worker, workers, first)
            assert counted == walked(schedule, worker, workers, first), (worker, first)
            assert sum(counted) == len([k for k in schedule.owned_by(worker, workers) if k >= first])


def test_a_billion_batches_are_counted_at_once() -> None:
    schedule = Schedule(RateProfile.constant(BILLION, 2), 1)
    assert schedule.owned_per_second(0, 1, 1234) == [BILLION - 1234, BILLION]
    assert sum(schedule.owned_per_second(1, 4, 0)) == BILLION // 2


async def test_a_rate_the_generator_cannot_keep_stops_when_the_time_is_up(sandbox: Sandbox) -> None:
    clock = SlowGenerator(step=0.001)  # a millisecond per look: the 2 s are up after ~2,000 looks
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(rate=1e9, burst=1e9)})) as sb:
        plan = make_config({"demo": plan_table(sb.url)}).plan("demo")
        spec = LoadSpec(plan, RateProfile.constant(BILLION, 2.0), max_in_flight=4)
        recorder = await run_worker(spec, clock=clock, start_at=clock.now)
    t = recorder.totals
    assert clock.reads < 20_000  # it never walked the billions of batches left
    # Every recipient due is accounted for: sent before the end, or dropped.
    assert t.recipients_due == 2 * BILLION == t.recipients_sent + t.dropped
    assert t.batches_due == t.batches_sent + t.dropped_batches
    assert 0 < t.recipients_sent == t.recipients_on_time < 10_000  # nothing started after the end
    assert [s.target for s in recorder.seconds[:2]] == [BILLION, BILLION]  # due per second, as scheduled
    assert sum(s.dropped for s in recorder.seconds) == t.dropped
    assert t.accepted + t.failed == t.recipients_sent  # every send that left was answered
    result = summarize(recorder, spec)
    assert result.dropped == t.dropped and result.generator_behind is not None
    assert "not started by the end" in result.generator_behind.reason
    assert not result.stopped  # the run was not cut short: the generator was behind


def test_cli_loadtest_at_a_billion_a_second_ends_and_reports_what_was_dropped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sandbox_thread(SandboxConfig(plans={"p1": SandboxPlan(rate=1e9, burst=1e9)})) as sb:
        code = main(["loadtest", "-c", str(write_config(tmp_path, sb.url)), "--plan", "demo",
                     "--rate", "1e9", "--duration", "1", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recipients_due"] == BILLION == data["recipients_sent"] + data["dropped"]
    assert 0 < data["recipients_sent"] < BILLION and not data["stopped"]
