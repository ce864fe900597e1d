"""The shared rate: GCRA by booking, the Python model and the Lua script on a real Redis."""

from __future__ import annotations

import random

import pytest

from bulksend.models import Batch, Numbers
from bulksend.scaleout.broker import Broker
from bulksend.scaleout.codec import encode_batch
from bulksend.scaleout.gcra import MICROS, Pace

T0 = 1_700_000_000 * MICROS  # a controlled "now", as Redis TIME would give it


@pytest.mark.parametrize(("rate", "burst", "bookings", "waits"), [
    # a full bucket lets a burst's worth go at once, then one recipient every 1/rate
    (10, 10, [(0, 10), (0, 1), (0, 1)], [0, 100_000, 200_000]),
    # weighted: a 5-recipient batch costs five times a 1-recipient one
    (10, 5, [(0, 5), (0, 5), (0, 1)], [0, 500_000, 600_000]),
    # time passing refills: after 1 s, 10 more may go
    (10, 10, [(0, 10), (MICROS, 10)], [0, 0]),
    # FIFO: a small batch booked after a big one waits behind it
    (100, 10, [(0, 10), (0, 10), (0, 1)], [0, 100_000, 110_000]),
])
def test_model_books_in_order(rate: float, burst: int, bookings: list[tuple[int, int]], waits: list[int]) -> None:
    pace, tat, got = Pace(rate, burst), 0, []
    for at, cost in bookings:
        b = pace.book(tat, T0 + at, cost)
        tat = b.tat
        got.append(b.wait)
    assert got == waits


def _worst_window(departures: list[tuple[int, int]], window: int) -> int:
    """The most recipients leaving within any ``window`` µs."""
    departures.sort()
    worst = total = lo = 0
    for hi in range(len(departures)):
        total += departures[hi][1]
        while departures[hi][0] - departures[lo][0] >= window:
            total -= departures[lo][1]
            lo += 1
        worst = max(worst, total)
    return worst


async def test_lua_matches_model_and_never_exceeds_rate_plus_burst(broker: Broker) -> None:
    rng = random.Random(7)
    pace = Pace(2000, 200)
    tat, now, departures = 0, T0, []
    for _ in range(400):
        now += rng.choice([0, 0, 50, 500, 5_000])
        cost = rng.choice([1, 10, 50, 200])
        expected = pace.book(tat, now, cost)
        wait = await broker.book("p", pace, cost, now_us=now)
        assert wait == expected.wait
        tat = expected.tat
        departures.append((now + wait, cost))
    assert int(await broker.redis.get(broker.keys.tat("p"))) == tat
    for window in (MICROS // 10, MICROS, 3 * MICROS):
        assert _worst_window(departures, window) <= pace.rate * window / MICROS + pace.burst


async def test_lua_uses_server_time_when_none_given(broker: Broker) -> None:
    pace = Pace(10, 10)
    assert await broker.book("p", pace, 10) == 0
    wait = await broker.book("p", pace, 10)
    assert 900_000 < wait <= 1_000_000  # a whole second's worth behind the first, less the time between


def _batch(seq: int, size: int) -> Batch:
    return Batch("c1", seq, Numbers([f"4670{seq:04d}{i:04d}" for i in range(size)]))


async def test_take_is_fifo_across_consumers_and_books_each_batch(broker: Broker) -> None:
    await broker.ensure_group("p")
    pace = Pace(100, 10)
    for seq, size in enumerate([10, 1, 10, 5]):
        await broker.submit("p", "c1", seq, encode_batch(_batch(seq, size)))
    calls = sum(broker.calls.values())
    taken = [await broker.take("p", f"w{i % 2}", pace, now_us=T0) for i in range(4)]
    assert sum(broker.calls.values()) - calls == 4  # one round trip a batch: take and book together
    assert [t.fields["s"] for t in taken if t] == ["0", "1", "2", "3"]
    assert [t.wait_us for t in taken if t] == [0, 10_000, 110_000, 160_000]
    assert await broker.take("p", "w0", pace, now_us=T0) is None


async def test_a_stopped_campaigns_entries_are_taken_unbooked(broker: Broker) -> None:
    await broker.ensure_group("p")
    await broker.submit("p", "c1", 0, encode_batch(_batch(0, 10)))
    await broker.stop_campaign("c1")
    taken = await broker.take("p", "w", Pace(1, 10), now_us=T0)
    assert taken is not None and taken.wait_us == -1
    assert await broker.redis.get(broker.keys.tat("p")) is None


async def test_submit_raises_the_high_water_mark_with_each_xadd(broker: Broker) -> None:
    await broker.ensure_group("p")
    for seq in (0, 1, 2):
        assert await broker.submit("p", "c1", seq, encode_batch(_batch(seq, 1))) == seq + 1
    assert await broker.redis.hget(broker.keys.campaign("c1"), "hwm") == b"2"
    assert await broker.submit("p", "c1", 1, encode_batch(_batch(1, 1))) == 3  # a retry adds nothing
    assert await broker.pending_of("p", "c1") == {0, 1, 2}
