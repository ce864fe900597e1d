"""The journal's own behaviour: staging, batch records, counts, lookups.

Real SQLite files in tmp_path, the real worker thread; no provider here
(test_journal_resume.py runs campaigns against the sandbox).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bulksend.core.estimate import BodyMeter
from bulksend.journal import BatchState, CampaignState, Journal, JournalError, JournalLedger, JournalLookup
from bulksend.journal.records import CampaignRecord, ListSource, Target, message_hash
from bulksend.journal.staging import Stager, write_rejects
from bulksend.journal import store
from bulksend.journal.store import InvariantError
from bulksend.models import Batch, BatchResult, Message, Outcome, Status
from tests.helpers import batches_of, stage_all

TARGET = Target("p", "sinch_xms", "plan-1", "http://127.0.0.1:1")


def write_list(path: Path) -> Path:
    rows = ["phone,name"]
    for i in range(30):
        rows.append(f"+4670000{i:04d},N{i}")
    rows[5] = "0701234567,National"          # line 6: invalid (national format)
    rows.append("+46700000003,Again")         # line 32: duplicate of line 5
    rows.append("+46700000017,Twice")         # line 33: duplicate of line 19
    rows.append("+46700000029,")              # line 34: no name: invalid (screened before dedup)
    rows.append("+46700000099,")              # line 35: no name -> no value for ${name}
    rows.append("+46700000042,Optout")        # line 36: excluded
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


async def new_campaign(journal: Journal, tmp_path: Path, body: str = "Hi ${name}",
                       name: str = "c") -> CampaignRecord:
    optout = tmp_path / "optout.txt"
    optout.write_text("46700000042\n", encoding="utf-8")
    source = ListSource(str(write_list(tmp_path / "list.csv")), exclude=(str(optout),))
    return await journal.write(store.create_campaign, name, TARGET, Message(body), source, None, None, journal.clock())


async def test_staging_keeps_first_occurrences_and_counts_everything_once(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        await stage_all(journal, c)
        dups, total = await journal.write(store.finish_staging, c.id, {}, 0.1, journal.clock())
        c = await journal.read(store.get_campaign, c.id)
        rows = await journal.read(store.page_new, c.id, 0, 100)
        rejects = await journal.read(store.rejects_of, c.id)
        await journal.call(write_rejects, c.id, str(tmp_path / "rejects.csv"), "list.csv")
    assert (c.read, c.invalid, c.excluded, dups, c.duplicates) == (35, 3, 1, 2, 2)
    assert total == c.total == 29 == len(rows)  # 35 read - 3 invalid - 1 excluded - 2 repeats
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # list order is send order
    by_number = {r[1]: r for r in rows}
    assert '"N3"' in (by_number["46700000003"][2] or "")  # the first occurrence stays, with its values
    assert {line for line, _v, _r in rejects} == {6, 34, 35}
    with (tmp_path / "rejects.csv").open() as f:
        got = list(csv.DictReader(f))
    assert [(r["line"], r["reason"]) for r in got] == [
        ("6", "national format (leading 0); use the country code"), ("34", "no value for ${name}"),
        ("35", "no value for ${name}")]


async def test_staging_interrupted_goes_on_after_the_last_staged_line(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "full.db") as journal:
        c = await new_campaign(journal, tmp_path)
        await stage_all(journal, c, chunk=5)
        await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
        whole = await journal.read(store.get_campaign, c.id)
    async with await Journal.open(tmp_path / "j.db") as journal:  # "killed" after two chunks
        c = await new_campaign(journal, tmp_path)
        await stage_all(journal, c, chunk=5, steps=2)
        half = await journal.read(store.get_campaign, c.id)
    assert 0 < half.line_done < 36 and not half.staged
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await journal.read(store.get_campaign, half.id)
        stager = await stage_all(journal, c, chunk=5)
        await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
        again = await journal.read(store.get_campaign, c.id)
        numbers = [r[1] for r in await journal.read(store.page_new, c.id, 0, 100)]
    assert stager.read == 35 - half.read
    for key in ("read", "invalid", "excluded", "duplicates", "total"):
        assert getattr(again, key) == getattr(whole, key), key
    assert len(numbers) == len(set(numbers)) == whole.total


async def staged(journal: Journal, tmp_path: Path, body: str = "Hi ${name}") -> CampaignRecord:
    c = await new_campaign(journal, tmp_path, body)
    await stage_all(journal, c)
    await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
    return await journal.read(store.get_campaign, c.id)


async def test_a_batch_is_in_flight_before_its_outcome_and_settles_once(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c)
        batches = await batches_of(ledger, 10)
        assert [b.size for b in batches] == [10, 10, 9] and [b.seq for b in batches] == [0, 1, 2]
        assert batches[0].recipients[0].params == {"name": "N0"}
        await ledger.before_send(batches[0])
        n = await journal.read(store.counts, c.id)
        assert (n.in_flight, n.pending, n.accepted) == (10, 19, 0)
        await ledger.after_send(batches[0], BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 2)
        await ledger.before_send(batches[1])
        await ledger.after_send(batches[1], BatchResult(Outcome(Status.FAILED, code="400", text="bad")), 1)
        n = await journal.read(store.counts, c.id)
        assert (n.accepted, n.failed, n.in_flight, n.pending) == (10, 10, 0, 9)
        with pytest.raises(InvariantError):  # settling twice is a bug, never silently accepted
            await journal.write(store.settle, c.id, 0, BatchState.ACCEPTED, "B0", "", "", 1, (10, 0, 0),
                                now=journal.clock())
        assert await journal.read(store.last_errors, c.id) == ["batch 1 failed: 400 bad"]
        # A fresh source (a resumed run) pages only the 9 left, numbered above every seq written.
        later = await batches_of(JournalLedger(journal, c), 10)
        assert [(b.seq, b.size) for b in later] == [(2, 9)]


async def test_per_recipient_outcomes_and_lookups_by_provider_id(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c)
        first, second, *_ = await batches_of(ledger, 10)
        await ledger.before_send(first)
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="XMS-1")), 1)
        await ledger.before_send(second)
        a, b = second.recipients[0].msisdn, second.recipients[1].msisdn
        mixed = BatchResult(Outcome(Status.ACCEPTED), per_recipient={
            r.msisdn: Outcome(Status.ACCEPTED, provider_id=f"m-{r.msisdn}") for r in second.recipients[1:]}
            | {a: Outcome(Status.FAILED, code="105", text="invalid destination")})
        await ledger.after_send(second, mixed, 1)
        n = await journal.read(store.counts, c.id)
        assert (n.accepted, n.failed) == (19, 1)
        assert (await journal.read(store.batches_in, c.id, [BatchState.MIXED]))[0].seq == 1
        hit = first.recipients[3].msisdn
        assert await journal.find_by_provider_id("XMS-1", hit) == ("c", hit)
        assert await journal.find_by_provider_id("XMS-1", b) is None  # not in that batch
        assert await journal.find_by_provider_id(f"m-{b}", b) == ("c", b)
        assert await journal.find_by_provider_id("nope", b) is None


async def test_a_refused_batch_goes_back_and_its_seq_is_never_reused(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c)
        first, *_ = await batches_of(ledger, 10)
        await ledger.before_send(first)
        await ledger.skipped(first)  # answered 401: the provider did not take it
        n = await journal.read(store.counts, c.id)
        assert (n.pending, n.in_flight) == (29, 0)
        again = await batches_of(JournalLedger(journal, c), 10)
        assert again[0].seq == 1 and again[0].recipients == first.recipients
        never = (await batches_of(JournalLedger(journal, c), 10))[1]
        await ledger.skipped(never)  # skipped before it was sent: nothing to undo
        assert (await journal.read(store.counts, c.id)).pending == 29


async def test_a_journal_ledger_does_all_a_ledger_does_and_reads_no_list_of_its_own(tmp_path: Path) -> None:
    from bulksend.engine.ledger import Ledger

    # Deduplication is the intake's: no ledger offers an ``admit`` that could read a list twice.
    protocol = {name for name in vars(Ledger) if not name.startswith("_")}
    assert protocol == {"before_send", "after_send", "skipped", "close"}
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c)
        assert all(callable(getattr(ledger, name)) for name in protocol) and not hasattr(ledger, "admit")


def test_message_hash_covers_body_sender_and_options() -> None:
    base = Message("Hi", sender="A")
    assert message_hash(base) == message_hash(Message("Hi", sender="A"))
    for other in (Message("Hi!", sender="A"), Message("Hi", sender="B"), Message("Hi", sender="A", send_at="x"),
                  Message("Hi", sender="A", defaults={"k": "v"})):
        assert message_hash(other) != message_hash(base)


async def test_the_delivery_side_looks_recipients_up_while_a_sender_holds_the_journal(tmp_path: Path) -> None:
    lookup = JournalLookup(tmp_path / "j.db")
    assert await lookup.find_by_provider_id("B1", "46700000001") is None  # no journal yet
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c)
        first = (await batches_of(ledger, 10))[0]
        await ledger.before_send(first)
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="B1")), 1)
        await journal.read(store.counts, c.id)  # the outcome is posted, not awaited: this call comes after its commit
        number = first.recipients[1].msisdn
        assert await lookup.find_by_provider_id("B1", number) == ("c", number)
    await lookup.close()


def stream_run(size: int) -> Any:
    from bulksend.engine import CampaignRun, CampaignSpec, MemoryLedger

    return CampaignRun(CampaignSpec("c", "a", Message("Hi ${name}")), MemoryLedger(), size)


async def streamed(journal: Journal, campaign: CampaignRecord, count: int, early_marks: bool = False
                   ) -> tuple[JournalLedger, Any, list[Batch]]:
    """A ledger reading the list 4 lines at a time into batches of 5, and its first ``count`` batches."""
    ledger = JournalLedger(journal, campaign, stager=Stager(campaign, BodyMeter(), block=4),
                           early_marks=early_marks)
    source = ledger.batches(stream_run(5))
    return ledger, source, [await source.__anext__() for _ in range(count)]


async def test_a_list_is_staged_while_its_batches_are_cut_and_read_only_once(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        stager = Stager(c, BodyMeter(), block=3)
        finished: list[bool] = []

        async def on_staged() -> None:
            finished.append(True)
            await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())

        run = stream_run(10)
        ledger = JournalLedger(journal, c, stager=stager, on_staged=on_staged)
        batches = [b async for b in ledger.batches(run)]
        # Blocks of 10 lines, each cut on its own: the first lost line 6 (invalid), the last held only
        # repeats, bad lines and an opt-out.
        assert [b.size for b in batches] == [9, 10, 10] and [b.seq for b in batches] == [0, 1, 2]
        assert finished == [True]
        s = run.stats
        assert (s.recipients_read, s.invalid, s.excluded, s.duplicates) == (35, 3, 1, 2)
        for batch in batches:  # members reached the disk already in their batch: only the batch row is written
            await ledger.before_send(batch)
            await ledger.after_send(batch, BatchResult(Outcome(Status.ACCEPTED, provider_id=f"B{batch.seq}")), 1)
        c = await journal.read(store.get_campaign, c.id)
        n = await journal.read(store.counts, c.id)
        sent = [r.msisdn for b in batches for r in b.recipients]
    assert c.staged and (c.read, c.invalid, c.excluded, c.duplicates, c.total) == (35, 3, 1, 2, 29)
    assert (n.accepted, n.pending, n.in_flight) == (29, 0, 0)
    assert len(sent) == len(set(sent)) == 29 and sent[0] == "46700000000"
    assert batches[0].recipients[0].params == {"name": "N0"}


async def test_batches_cut_but_never_sent_go_back_and_nobody_is_sent_twice(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        ledger, source, (first, second, third) = await streamed(journal, c, 3)
        await ledger.before_send(first)
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 1)
        await ledger.before_send(third)  # in flight when the process died; second never left
        await source.aclose()
        c = await journal.read(store.get_campaign, c.id)
        assert not c.staged and 0 < c.line_done < 36
    async with await Journal.open(tmp_path / "j.db") as journal:  # the next run
        c = await journal.read(store.get_campaign, c.id)
        rest = [b async for b in JournalLedger(journal, c, stager=Stager(c, BodyMeter(), block=4))
                .batches(stream_run(5))]
        n = await journal.read(store.counts, c.id)
    again = [r.msisdn for r in rest[0].recipients]
    assert again == [r.msisdn for r in second.recipients]  # the unsent batch first, under a new seq
    assert rest[0].seq > third.seq
    numbers = [r.msisdn for b in (first, third, *rest) for r in b.recipients]
    assert len(numbers) == len(set(numbers)) == 29  # every recipient once, nobody twice
    assert n.in_flight == third.size and n.accepted == first.size


async def test_early_marks_write_batches_in_flight_with_their_block_and_close_returns_the_unsent(
        tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        ledger, source, (first, second, third) = await streamed(journal, c, 3, early_marks=True)
        await ledger.before_send(first)  # its block is on disk: nothing more to write
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 1)
        await source.aclose()
        n = await journal.read(store.counts, c.id)
        sent = first.size
        # Read two blocks ahead of the sending: five blocks of one batch each for three taken.
        assert n.in_flight == n.total - sent and n.accepted == sent  # written in flight, unsent
        assert n.in_flight == second.size + third.size + 10
        held, blocks = await journal.call(lambda conn: conn.execute(
            "SELECT (SELECT count(*) FROM held), (SELECT count(*) FROM blocks)").fetchone())
        rows = await journal.call(lambda conn: conn.execute("SELECT count(*) FROM recipients").fetchone()[0])
        assert held == blocks == 5 and rows == 0  # a row a batch, its members in its block's row
        await ledger.close()  # a clean stop: what never left goes back
        n = await journal.read(store.counts, c.id)
        assert n.in_flight == 0 and n.accepted == sent and n.pending == n.total - sent
        c = await journal.read(store.get_campaign, c.id)
        rest = [b async for b in JournalLedger(journal, c, stager=Stager(c, BodyMeter(), block=4),
                                               early_marks=True).batches(stream_run(5))]
    numbers = [r.msisdn for b in (first, *rest) for r in b.recipients]
    assert numbers[sent:sent + 10] == [r.msisdn for b in (second, third) for r in b.recipients]
    assert len(numbers) == len(set(numbers)) == 29


async def test_batches_holding_their_members_explode_when_a_member_needs_a_state_of_its_own(
        tmp_path: Path) -> None:
    from bulksend.campaigns.report import write_report

    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        ledger, source, (first, second, third, fourth) = await streamed(journal, c, 4, early_marks=True)
        assert second.recipients[0].params is not None  # template values travel with the batch
        for batch in (first, second, third):
            await ledger.before_send(batch)
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 1)
        a, *rest = [r.msisdn for r in second.recipients]
        await ledger.after_send(second, BatchResult(Outcome(Status.ACCEPTED), per_recipient={
            a: Outcome(Status.FAILED, code="105", text="invalid destination"),
            **{m: Outcome(Status.ACCEPTED, provider_id=f"m-{m}") for m in rest}}), 1)
        await ledger.skipped(third)  # refused: its members go back, as rows of their own
        await source.aclose()
        await ledger.close()  # fourth never left
        n = await journal.read(store.counts, c.id)
        assert (n.accepted, n.failed, n.in_flight) == (first.size + len(rest), 1, 0)
        member = first.recipients[2].msisdn
        assert await journal.find_by_provider_id("B0", member) == ("c", member)  # found inside the batch row
        assert await journal.find_by_provider_id("B0", a) is None
        assert await journal.find_by_provider_id(f"m-{rest[0]}", rest[0]) == ("c", rest[0])
        await write_report(journal, "c", str(tmp_path / "report.csv"))
        # The next run sends what went back (third, fourth) first, then the rest of the list, nobody twice.
        c = await journal.read(store.get_campaign, c.id)
        later = [b async for b in JournalLedger(journal, c, stager=Stager(c, BodyMeter(), block=4),
                                                early_marks=True).batches(stream_run(5))]
    with (tmp_path / "report.csv").open() as f:
        report = list(csv.DictReader(f))
    by_number = {r["msisdn"]: r for r in report}
    assert [r["msisdn"] for r in report[:first.size]] == [r.msisdn for r in first.recipients]  # list order
    assert by_number[member]["status"] == "accepted" and by_number[member]["provider_id"] == "B0"
    assert by_number[a]["status"] == "failed" and by_number[a]["code"] == "105"
    assert by_number[rest[0]]["provider_id"] == f"m-{rest[0]}"
    assert by_number[third.recipients[0].msisdn]["status"] == "pending"
    again = [r.msisdn for b in later for r in b.recipients]
    assert again[:third.size + fourth.size] == [r.msisdn for b in (third, fourth) for r in b.recipients]
    sent = [r.msisdn for b in (first, second) for r in b.recipients] + again
    assert len(sent) == len(set(sent)) == 29


async def test_a_version_1_journal_is_brought_up_to_date_and_keeps_its_campaigns(tmp_path: Path) -> None:
    import sqlite3

    from bulksend.journal.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.close()
    async with await Journal.open(path) as journal:
        c = await new_campaign(journal, tmp_path)
        version = await journal.call(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])
        columns = await journal.call(lambda conn: [r[1] for r in conn.execute("PRAGMA table_info(batches)")])
        held = await journal.call(lambda conn: [r[1] for r in conn.execute("PRAGMA table_info(held)")])
        blocks = await journal.call(lambda conn: [r[1] for r in conn.execute("PRAGMA table_info(blocks)")])
    assert version == SCHEMA_VERSION == 5 and "members" not in columns and "members" not in held
    assert blocks == ["lo", "campaign", "hi", "numbers", "params"]
    async with await Journal.open(path) as journal:  # opened again: nothing left to do
        assert (await journal.campaign("c")) == c


async def test_a_version_2_journal_moves_the_members_its_batches_hold_out_of_them(tmp_path: Path) -> None:
    import sqlite3

    from bulksend.journal.schema import MIGRATIONS

    path = tmp_path / "v2.db"
    async with await Journal.open(tmp_path / "model.db") as journal:  # a campaign row as this bulksend writes it
        c = await new_campaign(journal, tmp_path)
        campaign_row = await journal.call(lambda conn: conn.execute("SELECT * FROM campaigns").fetchone()[:25])  # v1's
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + ";PRAGMA user_version = 2;")
    conn.execute(f"INSERT INTO campaigns VALUES ({','.join('?' * len(campaign_row))})", campaign_row)
    conn.execute("INSERT INTO batches (campaign, seq, lo, hi, size, state, provider_id, members, member_params) "
                 "VALUES (?, 0, 1, 3, 3, 'accepted', 'B0', '46700000001,46700000002,46700000003', "
                 "'[{\"name\":\"A\"},null,{\"name\":\"C\"}]')", (c.id,))
    conn.commit()
    conn.close()
    async with await Journal.open(path) as journal:
        (row,) = await journal.read(store.batches_in, c.id, (BatchState.ACCEPTED,))
        members = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
        found = await journal.find_by_provider_id("B0", "46700000002")
        next_id = await journal.call(store.next_id)
    assert members == [(1, "46700000001", '{"name":"A"}'), (2, "46700000002", None),
                       (3, "46700000003", '{"name":"C"}')]
    assert found == ("c", "46700000002") and next_id == 4


async def test_a_version_3_journal_keeps_its_held_batches_as_blocks_of_text(tmp_path: Path) -> None:
    import sqlite3

    from bulksend.journal.schema import MIGRATIONS

    path = tmp_path / "v3.db"
    async with await Journal.open(tmp_path / "model.db") as journal:
        c = await new_campaign(journal, tmp_path)
        campaign_row = await journal.call(lambda conn: conn.execute("SELECT * FROM campaigns").fetchone()[:25])  # v1's
    conn = sqlite3.connect(path)
    conn.executescript(";".join(MIGRATIONS[:3]) + ";PRAGMA user_version = 3;")
    conn.execute(f"INSERT INTO campaigns VALUES ({','.join('?' * len(campaign_row))})", campaign_row)
    conn.execute("INSERT INTO batches (campaign, seq, lo, hi, size, state, provider_id) "
                 "VALUES (?, 0, 1, 3, 3, 'accepted', 'B0')", (c.id,))
    conn.execute("INSERT INTO held (hi, campaign, seq, members, member_params) VALUES (3, ?, 0, "
                 "'46700000001,46700000002,46700000003', '[{\"name\":\"A\"},null,{\"name\":\"C\"}]')", (c.id,))
    conn.commit()
    conn.close()
    async with await Journal.open(path) as journal:
        (row,) = await journal.read(store.batches_in, c.id, (BatchState.ACCEPTED,))
        members = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
        found = await journal.find_by_provider_id("B0", "46700000002")
        next_id = await journal.call(store.next_id)
        seen = await journal.read(store.seen_numbers, c.id)
        await journal.call(lambda conn: store.explode(conn, c.id, 0), write=True)
        exploded = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
        held = await journal.call(lambda conn: conn.execute("SELECT count(*) FROM held").fetchone()[0])
    expected = [(1, "46700000001", '{"name":"A"}'), (2, "46700000002", None), (3, "46700000003", '{"name":"C"}')]
    assert members == expected and found == ("c", "46700000002") and next_id == 4
    assert not seen.take(np.array([46700000001, 46700000002, 46700000003], dtype=np.int64)).any()
    assert exploded == expected and held == 0  # rows of their own now, the same members


async def test_a_block_keeps_its_numbers_in_eight_bytes_each_and_its_values_once(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        ledger, source, (first, second) = await streamed(journal, c, 2, early_marks=True)
        await ledger.before_send(second)
        blocks = await journal.call(lambda conn: conn.execute(
            "SELECT lo, hi, typeof(numbers), length(numbers), params FROM blocks ORDER BY lo").fetchall())
        row = (await journal.read(store.batches_in, c.id, (BatchState.IN_FLIGHT,)))[1]
        members = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
        await source.aclose()
        await ledger.close()
    lo, hi, kind, size, params = blocks[1]
    assert (kind, size) == ("blob", 8 * (hi - lo + 1)) and (lo, hi) == (row.lo, row.hi)
    assert [m for _i, m, _p in members] == [r.msisdn for r in second.recipients]
    assert [json.loads(p) for _i, _m, p in members] == [r.params for r in second.recipients]
    assert json.loads(params) == [r.params for r in second.recipients]


async def test_lingering_outcomes_are_seen_by_the_next_call_and_written_on_close(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await staged(journal, tmp_path)
        ledger = JournalLedger(journal, c, early_marks=True)  # a provider that can be asked: outcomes linger
        first, second, _ = await batches_of(ledger, 10)
        for batch in (first, second):
            await ledger.before_send(batch)
        await ledger.after_send(first, BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 1)
        assert (await journal.read(store.counts, c.id)).accepted == 10  # any call first posts what lingers
        await ledger.after_send(second, BatchResult(Outcome(Status.ACCEPTED, provider_id="B1")), 1)
    async with await Journal.open(tmp_path / "j.db") as journal:  # closing wrote the last one
        assert (await journal.read(store.counts, c.id)).accepted == 20


async def test_outcomes_are_written_one_statement_a_kind_each_batch_found_by_its_key(tmp_path: Path) -> None:
    from bulksend.journal.records import BatchState as S

    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        cut = [(seq, seq * 10 + 1, seq * 10 + 10) for seq in range(4)]
        keys = np.arange(46700000001, 46700000041, dtype=np.int64)

        def write(conn: Any) -> None:
            store.append_batches(conn, c.id, SimpleNamespace(read=40, invalid=0, excluded=0, duplicates=0,
                                                             numbers=keys, line_done=40, rejects=[]), 1, cut)
            store.settle_many(conn, [
                (c.id, 0, S.ACCEPTED, "B0", "", "", 1, (10, 0, 0), (), 1.0),
                (c.id, 1, S.FAILED, "", "400", "bad", 1, (0, 10, 0), (), 2.0),
                (c.id, 2, S.ACCEPTED, "B2", "", "", 3, (10, 0, 0), (), 3.0),
            ])

        await journal.call(write, write=True)
        rows = await journal.call(lambda conn: conn.execute(
            "SELECT seq, state, provider_id, code, attempts, accepted, failed, settled_at FROM batches "
            "ORDER BY seq").fetchall())
        plan = await journal.call(lambda conn: conn.execute(
            "EXPLAIN QUERY PLAN " + store._settle_sql(0), ("a", "", "", 1, "[]")).fetchall())
        with pytest.raises(InvariantError):  # settled already: not in flight any more
            await journal.call(lambda conn: store.settle_many(
                conn, [(c.id, 0, S.ACCEPTED, "B0", "", "", 1, (10, 0, 0), (), 4.0)]), write=True)
    assert rows == [(0, "accepted", "B0", "", 1, 10, 0, 1.0), (1, "failed", None, "400", 1, 0, 10, 2.0),
                    (2, "accepted", "B2", "", 3, 10, 0, 3.0), (3, "in_flight", None, "", 0, 0, 0, None)]
    assert any("SEARCH batches USING PRIMARY KEY (campaign=? AND seq=?)" in str(step) for step in plan)


async def test_read_and_write_run_any_store_function_once_and_refuse_a_closed_journal(tmp_path: Path) -> None:
    ticks = iter([100.0, 200.0, 300.0])
    journal = await Journal.open(tmp_path / "j.db", clock=lambda: next(ticks))
    async with journal:
        c = await new_campaign(journal, tmp_path)  # stamped 100
        # a keyword argument reaches the store function too
        await journal.write(store.set_state, c.id, CampaignState.PAUSED, reason="held", now=journal.clock())
        again = await journal.read(store.get_campaign, c.id)
        assert (again.state, again.reason, again.created_at, again.updated_at) == (
            CampaignState.PAUSED, "held", 100.0, 200.0)
        with pytest.raises(InvariantError):  # a failing write is rolled back and raised to its caller
            await journal.write(store.settle, c.id, 7, BatchState.ACCEPTED, "B", "", "", 1, (1, 0, 0),
                                now=journal.clock())
        assert (await journal.read(store.counts, c.id)).accepted == 0
    with pytest.raises(JournalError, match="is closed"):
        await journal.read(store.counts, c.id)
    with pytest.raises(JournalError, match="is closed"):
        await journal.write(store.set_plan, c.id, "other", 0.0)


async def test_replace_list_forgets_what_was_staged_and_reads_the_new_file(tmp_path: Path) -> None:
    async with await Journal.open(tmp_path / "j.db") as journal:
        c = await new_campaign(journal, tmp_path)
        await stage_all(journal, c)
        staged = await journal.read(store.get_campaign, c.id)
        assert staged.read == 35 and await journal.read(store.rejects_of, c.id)
        moved = ListSource(str(tmp_path / "moved.csv"), size=10, mtime_ns=20)
        await journal.write(store.replace_list, c.id, moved, journal.clock())
        after = await journal.read(store.get_campaign, c.id)
        assert after.source == moved
        assert (after.staged, after.line_done, after.read, after.total) == (False, 0, 0, 0)
        assert await journal.read(store.page_new, c.id, 0, 100) == []
        assert await journal.read(store.rejects_of, c.id) == []
