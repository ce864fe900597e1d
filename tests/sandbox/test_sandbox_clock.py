"""The sandbox's one clock, with its sources injected: no real time passes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from bulksend.sandbox.clock import SandboxClock, iso_ms, iso_utc, parse_iso

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def test_advance_moves_the_reading_the_calendar_and_the_timestamps_together() -> None:
    now = [100.0]
    clock = SandboxClock(lambda: now[0], epoch=lambda: EPOCH + now[0] - 100.0)  # both sources move together
    assert clock() == 100.0 and clock.wall(clock()) == EPOCH and clock.iso() == iso_ms(EPOCH)
    clock.advance(86400)
    assert clock() == 86500.0 and clock.wall(clock()) == EPOCH + 86400
    assert clock.at(EPOCH + 86400) == clock() and clock.real_epoch() == EPOCH
    now[0] = 101.5
    assert clock.wall(clock()) == EPOCH + 86401.5 and clock.real_epoch() == EPOCH + 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_timestamps_as_sinch_writes_them() -> None:
    assert iso_ms(EPOCH + 0.25) == "2027-01-15T08:00:00.250Z"
    assert iso_utc(EPOCH) == "2027-01-15T08:00:00Z"
    assert parse_iso("2027-01-15T09:00:00+01:00") == EPOCH == parse_iso("2027-01-15T08:00:00")  # no offset: UTC


async def test_sleepers_wake_when_the_clock_is_advanced_past_them() -> None:
    clock = SandboxClock(lambda: 0.0, epoch=lambda: EPOCH)  # a source that never moves by itself
    sleeper = asyncio.ensure_future(clock.sleep_until(3600.0))
    await asyncio.sleep(0)
    clock.advance(60)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(3600)
    await asyncio.wait_for(sleeper, 1.0)


async def test_an_injected_clock_dates_the_batches() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    clock = SandboxClock(epoch=lambda: EPOCH + loop.time() - start)  # the calendar, starting at EPOCH
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), clock=clock) as sb, aiohttp.ClientSession() as s:
        assert sb.state.clock is clock
        sb.advance(7200)
        async with s.post(f"{sb.url}/xms/v1/p1/batches", headers={"Authorization": "Bearer t"},
                          json={"to": ["46701234567"], "body": "x"}) as r:
            batch = await r.json()
        async with s.get(f"{sb.url}/_sandbox/clock") as r:
            told = await r.json()
    created = parse_iso(batch["created_at"])
    assert 0 <= created - (EPOCH + 7200) < 5 and parse_iso(batch["expire_at"]) - created == pytest.approx(3 * 86400, abs=0.01)
    assert told["offset"] == 7200 and 0 <= parse_iso(told["now"]) - (EPOCH + 7200) < 5
