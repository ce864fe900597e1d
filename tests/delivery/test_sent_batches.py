"""What was sent without a journal is recorded a batch at a time: a batch accepted
whole is one row, however many recipients it holds, and every reader (``find_sent``,
``was_sent``, ``sent_of``, ``counts``, ``latencies``, ``track``) still sees each of them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import orjson

from bulksend.delivery import DeliveryLedger, DeliveryStatus, Report, Sent, SqliteDeliveryStore
from bulksend.delivery.tracker import track_campaign
from bulksend.engine import MemoryLedger
from bulksend.engine.transport import MockTransport
from bulksend.models import Batch, BatchResult, HttpRequest, HttpResponse, Numbers, Outcome, Status
from tests.helpers import make_config, plan_table

URL = "http://127.0.0.1:9"


def joined(numbers: list[str]) -> Numbers:
    """``numbers`` held the way the list reader holds a clean block: one text, with offsets."""
    text = "\n".join(numbers)
    starts = np.cumsum([0] + [len(n) + 1 for n in numbers])
    return Numbers.joined(text, starts)


def rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_a_200_recipient_batch_is_one_row_and_every_reader_sees_all_200(tmp_path: Path) -> None:
    numbers = [f"46701{i:06d}" for i in range(200)]
    db = tmp_path / "d.db"
    async with SqliteDeliveryStore(db) as store:
        ledger = DeliveryLedger(MemoryLedger(), store, clock=lambda: 10.0)
        accepted = BatchResult(Outcome(Status.ACCEPTED, provider_id="B1"))
        await ledger.after_send(Batch("big", 0, joined(numbers)), accepted, 1)
        await store.record_reports([Report("big", numbers[3], DeliveryStatus.DELIVERED, at=14.0, received_at=15.0)])
        sent = await store.sent_of("big")
        found = [await store.find_sent("B1", n) for n in (numbers[0], numbers[199], "46709999999")]
        by_id_alone = await store.find_sent("B1")  # a batch id names 200 numbers: it cannot say which
        known = [await store.was_sent("big", n) for n in (numbers[100], "46709999999")]
        counts, latencies = await store.counts("big"), await store.latencies("big")

        def handler(request: HttpRequest) -> HttpResponse:
            assert "/batches/B1/delivery_report" in request.url
            return HttpResponse(200, {}, orjson.dumps({
                "type": "delivery_report_sms", "batch_id": "B1", "total_message_count": 200,
                "statuses": [{"code": 0, "status": "Delivered", "count": 200, "recipients": numbers}]}))

        transport = MockTransport(handler)
        tracked = await track_campaign(make_config({"a": plan_table(URL)}), store, "big", "a",
                                       transport=transport, clock=lambda: 50.0)
        delivered = await store.counts("big")
    assert rows(db, "delivery_sent_batches") == 1 and rows(db, "delivery_sent") == 0
    assert sorted(sent, key=lambda s: s.msisdn) == [Sent("big", n, "B1", 10.0) for n in numbers]
    assert found == [("big", numbers[0]), ("big", numbers[199]), None] and by_id_alone is None
    assert known == [True, False]
    assert counts == {"delivered": 1, "sent": 200} and latencies == [4.0]
    assert (tracked.accepted, tracked.candidates, tracked.requests, tracked.final) == (200, 199, 1, 199)
    assert len(transport.requests) == 1 and delivered == {"delivered": 200, "sent": 200}


async def test_a_number_sent_again_counts_once_under_its_latest_acceptance(tmp_path: Path) -> None:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_batch("c", joined(["46700000001", "46700000002"]), "B1", 1.0)
        await store.record_batch("c", joined(["46700000002", "46700000003"]), "B2", 2.0)
        await store.record_sent([Sent("c", "46700000003", "M9", 3.0)])  # answered per recipient
        await store.record_reports([Report("c", "46700000002", DeliveryStatus.DELIVERED, at=5.0, received_at=6.0)])
        sent = await store.sent_of("c")
        counts, latencies = await store.counts("c"), await store.latencies("c")
        single = await store.find_sent("M9")
    assert sorted((s.msisdn, s.provider_id, s.accepted_at) for s in sent) == [
        ("46700000001", "B1", 1.0), ("46700000002", "B2", 2.0), ("46700000003", "M9", 3.0)]
    assert counts["sent"] == 3 and latencies == [3.0] and single == ("c", "46700000003")


async def test_numbers_json_would_escape_are_kept_as_they_were(tmp_path: Path) -> None:
    odd = ['4670"1', "4670\\2", "4670\t3"]
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_batch("q", Numbers(odd), "B1", 1.0)
        await store.record_batch("l", odd, "B2", 1.0)
        got = {c: sorted(s.msisdn for s in await store.sent_of(c)) for c in ("q", "l")}
        found = await store.find_sent("B1", odd[0])
    assert got == {"q": sorted(odd), "l": sorted(odd)} and found == ("q", odd[0])


def old_file(db: Path) -> None:
    """A delivery store written before batches were kept whole: ``delivery_sent`` only."""
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            CREATE TABLE delivery_sent (campaign TEXT NOT NULL, msisdn TEXT NOT NULL, provider_id TEXT NOT NULL,
                accepted_at REAL NOT NULL, PRIMARY KEY (campaign, msisdn)) WITHOUT ROWID;
            CREATE TABLE delivery_reports (campaign TEXT NOT NULL, msisdn TEXT NOT NULL, status TEXT NOT NULL,
                final INTEGER NOT NULL, provider_status TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '',
                at REAL, received_at REAL NOT NULL, provider_id TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (campaign, msisdn)) WITHOUT ROWID;
            CREATE TABLE inbound_messages (id INTEGER PRIMARY KEY, provider TEXT NOT NULL, plan TEXT NOT NULL,
                message_id TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL, recipient TEXT NOT NULL,
                body TEXT NOT NULL, at REAL, received_at REAL NOT NULL, opt_out INTEGER NOT NULL,
                keyword TEXT NOT NULL DEFAULT '');
            INSERT INTO delivery_sent VALUES ('old', '46700000001', 'B0', 1.0);
        """)


async def test_a_file_from_before_is_read_as_it_is_and_extended_when_written(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_file(db)
    async with SqliteDeliveryStore(db, readonly=True) as reader:  # read-only: the file is not changed
        before = await reader.sent_of("old")
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert before == [Sent("old", "46700000001", "B0", 1.0)] and "delivery_sent_batches" not in tables
    async with SqliteDeliveryStore(db) as store:
        await store.record_batch("old", joined(["46700000002", "46700000003"]), "B1", 2.0)
        counts = await store.counts("old")
        found = await store.find_sent("B0", "46700000001")
    assert counts["sent"] == 3 and found == ("old", "46700000001")
