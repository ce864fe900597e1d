"""``bulksend report`` (CSV and CDR) and ``bulksend status`` over a journal."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.journal import Journal, JournalLedger, store
from bulksend.journal.records import ListSource, Target
from bulksend.campaigns.report import CDR_HEADER, CSV_HEADER, cdr_amount, cdr_result, row_status
from bulksend.models import BatchResult, Message, Outcome, Status
from tests.helpers import batches_of, stage_all


@pytest.mark.parametrize(("status", "result"), [
    ("accepted", "Successful"), ("pending", "Pending"), ("in_flight", "Pending"),
    ("failed", "Faulted"), ("cancelled", "Faulted"), ("unknown", "Unknown"),
])
def test_cdr_result_names(status: str, result: str) -> None:
    assert cdr_result(status) == result


@pytest.mark.parametrize(("status", "parts", "price", "amount"), [
    ("accepted", 2, None, "2"), ("accepted", 2, Decimal("0.0075"), "0.0150"),
    ("unknown", 1, Decimal("0.05"), "0.05"), ("failed", 3, Decimal("0.05"), "0.00"), ("pending", 1, None, "0"),
])
def test_cdr_amount_is_parts_times_price_for_what_may_have_been_charged(
        status: str, parts: int, price: Decimal | None, amount: str) -> None:
    assert cdr_amount(status, parts, price) == amount


def test_row_status_prefers_the_recipients_own_answer() -> None:
    assert row_status(0, None, False) == "pending"
    assert row_status(0, None, True) == "cancelled"
    assert row_status(1, "accepted", False) == "accepted"
    assert row_status(3, "mixed", False) == "failed"


def make_campaign(tmp_path: Path) -> Path:
    """Batch 0 accepted, batch 1 failed, batch 2 mixed (per recipient), the rest pending."""
    listing = tmp_path / "list.csv"
    rows = ["phone,name"] + [f"+4670000{i:04d},N{i}" for i in range(25)]
    rows[3] = "+46700000002," + "\u0142" * 80  # a name that makes a 2-part UCS-2 message
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = tmp_path / "j.db"

    async def go() -> None:
        async with await Journal.open(path) as journal:
            target = Target("a", "sinch_xms", "plan-1", "http://127.0.0.1:9")
            c = await journal.write(store.create_campaign, "c", target,
                                    Message("Hi ${name}", sender="Shop"), ListSource(str(listing)), None, None,
                                    journal.clock())
            await stage_all(journal, c)
            await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
            ledger = JournalLedger(journal, await journal.read(store.get_campaign, c.id))
            b0, b1, b2 = (await batches_of(ledger, 5))[:3]
            for b in (b0, b1, b2):
                await ledger.before_send(b)
            await ledger.after_send(b0, BatchResult(Outcome(Status.ACCEPTED, provider_id="B0")), 2)
            await ledger.after_send(b1, BatchResult(Outcome(Status.FAILED, code="400", text="bad")), 1)
            per = {r.msisdn: Outcome(Status.ACCEPTED, provider_id=f"m{i}") for i, r in enumerate(b2.recipients)}
            per[b2.recipients[0].msisdn] = Outcome(Status.UNKNOWN, code="timeout")
            await ledger.after_send(b2, BatchResult(Outcome(Status.ACCEPTED, provider_id="B2"), per), 1)
    asyncio.run(go())
    return path


def test_csv_report_has_one_row_per_recipient_with_its_batch(tmp_path: Path, capsys) -> None:
    journal = make_campaign(tmp_path)
    out = tmp_path / "report.csv"
    assert main(["report", "c", "--out", str(out), "--journal", str(journal)]) == 0
    with out.open() as f:
        reader = csv.reader(f)
        assert tuple(next(reader)) == CSV_HEADER
        rows = list(reader)
    assert len(rows) == 25 and "wrote 25 rows" in capsys.readouterr().err
    first, failed, unknown, mixed_ok, pending = rows[0], rows[5], rows[10], rows[11], rows[24]
    assert first[:6] == ["46700000000", "accepted", "B0", "B0", "", "2"] and first[6].endswith("Z")
    assert failed[:6] == ["46700000005", "failed", "", "", "400", "1"]
    assert unknown[:5] == ["46700000010", "unknown", "B2", "B2", "timeout"]
    assert mixed_ok[:4] == ["46700000011", "accepted", "B2", "m1"]
    assert pending == ["46700000024", "pending", "", "", "", "0", "", ""]
    assert first[7] == "pending" and failed[7] == "" and mixed_ok[7] == "pending"  # accepted, no report yet


def test_cdr_report_uses_the_call_detail_record_layout(tmp_path: Path, capsys) -> None:
    journal = make_campaign(tmp_path)
    assert main(["report", "c", "--format", "cdr", "--price", "0.01", "--out", "-", "--journal", str(journal)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out), delimiter=";"))
    assert tuple(rows[0]) == CDR_HEADER
    body = rows[1:]
    assert len(body) == 25
    key, space, stamp, result, sender, to, amount = body[0]
    assert (key, space, result, sender, to, amount) == ("plan-1", "1", "Successful", "Shop", "46700000000", "0.01")
    assert stamp.endswith("Z")
    assert body[2][3:] == ["Successful", "Shop", "46700000002", "0.02"]  # two parts (UCS-2 name)
    assert body[5][3] == "Faulted" and body[5][6] == "0.00"
    assert body[10][3] == "Unknown" and body[10][6] == "0.01"
    assert body[24][2:] == ["", "Pending", "Shop", "46700000024", "0.00"]
    assert "token" not in "".join(";".join(r) for r in rows).lower()


def test_status_lists_campaigns_and_shows_one_in_detail(tmp_path: Path, capsys) -> None:
    journal = make_campaign(tmp_path)
    assert main(["status", "--journal", str(journal)]) == 0
    listing = capsys.readouterr().out
    # progress is what was accepted (9 of 25); failed (5) and unknown (1) have their own columns
    assert "CAMPAIGN" in listing and "interrupted" in listing and "9/25 36%" in listing
    assert main(["status", "c", "--journal", str(journal)]) == 0
    detail = capsys.readouterr().out
    for name, value in (("accepted", 9), ("failed", 5), ("unknown", 1), ("in flight", 0), ("pending", 10)):
        assert re.search(rf"^  {name} +{value}$", detail, re.M), name
    assert "last error  batch 1 failed: 400 bad" in detail
    assert "bulksend resume c" in detail
    assert main(["report", "nope", "--out", "-", "--journal", str(journal)]) == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err
