"""Leases on a real Redis: finish once, renew while held, reclaim after a death, dead-letter."""

from __future__ import annotations

import asyncio

from bulksend.models import Batch, BatchResult, Numbers, Outcome, Status
from bulksend.scaleout.broker import Broker
from bulksend.scaleout.codec import RESULT, Report, decode_report, encode_batch
from bulksend.scaleout.gcra import Pace

PACE = Pace(1000, 100)


async def _one(broker: Broker, consumer: str = "w1") -> str:
    await broker.ensure_group("p")
    await broker.submit("p", "c1", 0, encode_batch(Batch("c1", 0, Numbers(["46700000001", "46700000002"]))))
    taken = await broker.take("p", consumer, PACE)
    assert taken is not None
    return taken.id


async def test_finish_publishes_acks_and_deletes_once(broker: Broker) -> None:
    entry = await _one(broker)
    report = Report(0, RESULT, BatchResult(Outcome(Status.ACCEPTED, "b1")), attempts=1, requests=1)
    assert await broker.finish("p", "c1", entry, report)
    assert not await broker.finish("p", "c1", entry, report)  # a second finisher publishes nothing
    assert await broker.backlog("p") == 0
    got = await broker.outcomes("c1", "0", None)
    assert len(got) == 1 and decode_report(got[0][1]) == report


async def test_renew_holds_the_lease_and_reclaim_takes_over_a_dead_one(broker: Broker) -> None:
    entry = await _one(broker)
    await asyncio.sleep(0.15)
    assert await broker.renew("p", "w1", entry)
    assert await broker.reclaim("p", "w2", lease_ms=100, max_deliveries=3) == []  # renewed: still held
    await asyncio.sleep(0.15)  # w1 "died": no renewal
    [got] = await broker.reclaim("p", "w2", lease_ms=100, max_deliveries=3)
    assert got.id == entry and got.deliveries == 2 and got.fields["s"] == "0"
    assert not await broker.renew("p", "w1", entry)  # w1 lost it: it must not take it back


async def test_an_entry_delivered_too_often_goes_to_dead_letters_reported_unknown(broker: Broker) -> None:
    entry = await _one(broker)
    for n in range(2):
        await asyncio.sleep(0.12)
        assert len(await broker.reclaim("p", f"w{n + 2}", lease_ms=100, max_deliveries=3)) == 1
    await asyncio.sleep(0.12)
    assert await broker.reclaim("p", "w9", lease_ms=100, max_deliveries=3) == []
    dead = await broker.redis.xrange(broker.keys.dead("p"))
    assert len(dead) == 1 and dead[0][1][b"id"] == entry.encode() and dead[0][1][b"deliveries"] == b"4"
    assert await broker.backlog("p") == 0
    [(_, fields)] = await broker.outcomes("c1", "0", None)
    report = decode_report(fields)
    assert report.seq == 0 and report.result is not None
    assert report.result.outcome.status is Status.UNKNOWN and report.result.outcome.code == "dead_letter"


async def test_forgetting_outcomes_trims_only_those_before_the_mark(broker: Broker) -> None:
    ids = [await broker.redis.xadd(broker.keys.outcomes("c1"), {"k": RESULT, "s": str(n)}) for n in range(3)]
    await broker.forget_outcomes("c1", ids[1].decode())
    assert [int(f["s"]) for _i, f in await broker.outcomes("c1", "0", None)] == [1, 2]
