"""Delivery tracking core: opt-outs, status maps, the store's rules, the summary."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bulksend.delivery import DeliveryLedger, DeliveryStatus, Report, Resolver, Sent, SqliteDeliveryStore
from bulksend.delivery.model import classic_status, clickatell_status, xms_status
from bulksend.delivery.optout import opt_out_keyword
from bulksend.delivery.resolve import Ref, campaign_of
from bulksend.delivery.summary import delivery_summary, format_delivery, latency_distribution, percentile
from bulksend.engine import MemoryLedger
from bulksend.models import Batch, BatchResult, Outcome, Recipient, Status

D, F, P = DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.PENDING


@pytest.mark.parametrize(("body", "keyword"), [
    ("STOP", "STOP"), ("  stop  ", "STOP"), ("Stop.", "STOP"), ("stop please", "STOP"), ("STOPALL", "STOPALL"),
    ("unsubscribe", "UNSUBSCRIBE"), ("Cancel", "CANCEL"), ("end", "END"), ("QUIT!", "QUIT"),
    ("stopwatch", ""), ("don't stop", ""), ("Hello", ""), ("", ""), ("ending", ""),
])
def test_opt_out_keywords(body: str, keyword: str) -> None:
    assert opt_out_keyword(body) == keyword


def test_status_maps() -> None:
    assert [xms_status(s) for s in ("Delivered", "Dispatched", "Expired", "Deleted", "Cancelled", "New")] == [
        D, P, DeliveryStatus.EXPIRED, F, DeliveryStatus.ABORTED, DeliveryStatus.UNKNOWN]
    assert [classic_status(s) for s in ("Successful", "Faulted", "Pending", "Unknown")] == [
        D, F, P, DeliveryStatus.UNKNOWN]
    assert [clickatell_status(s) for s in ("004", "4", "003", "010", "7", "999")] == [
        D, D, P, DeliveryStatus.EXPIRED, F, DeliveryStatus.UNKNOWN]


def test_campaign_of_reference() -> None:
    assert campaign_of("spring:12") == "spring" and campaign_of("a:b:3") == "a:b"
    assert campaign_of("spring") is None and campaign_of("spring:x") is None and campaign_of(":1") is None


def test_percentiles_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert [percentile(values, p) for p in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    dist = latency_distribution([3.0, 1.0, 2.0])
    assert dist == {"count": 3, "min": 1.0, "mean": 2.0, "p50": 2.0, "p90": 3.0, "p95": 3.0, "p99": 3.0, "max": 3.0}
    assert latency_distribution([]) == {"count": 0}


def report(msisdn: str, status: DeliveryStatus, at: float | None, received: float = 100.0) -> Report:
    return Report("c", msisdn, status, status.value, "", at, received, "B")


async def test_store_rules_and_summary(tmp_path: Path) -> None:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("c", f"4670000000{i}", "B", 10.0) for i in range(5)])
        await store.record_reports([report("46700000000", P, 11.0), report("46700000001", D, 12.5)])
        await store.record_reports([report("46700000000", D, 14.0)])           # pending -> final
        await store.record_reports([report("46700000001", P, 20.0)])           # final is never undone
        await store.record_reports([report("46700000002", F, 30.0), report("46700000002", D, 25.0)])  # later final wins
        await store.record_reports([report("46700000003", DeliveryStatus.UNKNOWN, None)])
        summary = await delivery_summary(store, "c")
        final = await store.final_of("c")
        again = await delivery_summary(store, "c", accepted=8)
    assert summary["delivered"] == 2 and summary["failed"] == 1 and summary["pending"] == 2
    assert summary["accepted"] == 5 and summary["reported"] == 4
    assert summary["latency_s"]["count"] == 2 and summary["latency_s"]["max"] == 4.0  # 14 - 10
    assert final == {"46700000000", "46700000001", "46700000002"}
    assert again["pending"] == 5
    text = "\n".join(format_delivery(summary))
    assert "delivered" in text and "p50" in text


async def test_group_commit_many_concurrent_writers(tmp_path: Path) -> None:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await asyncio.gather(*(store.record_sent([Sent("g", str(46700000000 + i), f"id{i}", 1.0)])
                               for i in range(500)))
        found = await store.find_sent("id7")
        counts = await store.counts("g")
    assert found == ("g", "46700000007") and counts["sent"] == 500


async def test_delivery_ledger_records_accepted_recipients_only(tmp_path: Path) -> None:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        ledger = DeliveryLedger(MemoryLedger(), store, clock=lambda: 42.0)
        batch = Batch("c", 0, (Recipient("46700000001"), Recipient("46700000002")))
        result = BatchResult(Outcome(Status.ACCEPTED, provider_id="B"),
                             {"46700000002": Outcome(Status.FAILED, code="105")})
        await ledger.after_send(batch, result, 1)
        sent = await store.sent_of("c")
        resolver = Resolver(store)
        by_batch = await resolver.resolve(Ref("B", "46700000001"))
        by_reference = await resolver.resolve(Ref("", "46700000001", "c:0"))
        not_sent = await resolver.resolve(Ref("", "46700000002", "c:0"))
        ambiguous = await store.find_sent("B")  # one number only here, so the id alone is enough
    assert sent == [Sent("c", "46700000001", "B", 42.0)]
    assert by_batch == by_reference == ("c", "46700000001") and not_sent is None
    assert ambiguous == ("c", "46700000001")


async def test_resolver_asks_the_journal_after_the_store(tmp_path: Path) -> None:
    class FakeJournal:
        async def accepted_at(self, provider_id: str, msisdn: str) -> float | None:
            return None

        async def find_by_provider_id(self, provider_id: str, msisdn: str) -> tuple[str, str] | None:
            return ("from-journal", msisdn) if provider_id == "J1" else None

    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        resolver = Resolver(store, FakeJournal())
        assert await resolver.resolve(Ref("J1", "4670")) == ("from-journal", "4670")
        assert await resolver.resolve(Ref("J2", "4670")) is None
