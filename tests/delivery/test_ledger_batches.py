"""``DeliveryLedger``'s whole-batch path (one statement a batch) records exactly
what the per-recipient path records for the same answer."""

from __future__ import annotations

from pathlib import Path

from bulksend.delivery import DeliveryLedger, Sent, SqliteDeliveryStore
from bulksend.engine import MemoryLedger
from bulksend.models import Batch, BatchResult, Numbers, Outcome, Recipient, Status


async def test_a_batch_accepted_whole_is_recorded_like_one_answered_per_recipient(tmp_path: Path) -> None:
    numbers = [f"4670000{i:04d}" for i in range(250)]
    whole = Batch("w", 0, Numbers(numbers))
    each = Batch("e", 0, tuple(Recipient(n) for n in numbers))
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        ledger = DeliveryLedger(MemoryLedger(), store, clock=lambda: 7.0)
        await ledger.after_send(whole, BatchResult(Outcome(Status.ACCEPTED, provider_id="B1")), 1)
        per = {n: Outcome(Status.ACCEPTED, provider_id="B2") for n in numbers}
        await ledger.after_send(each, BatchResult(Outcome(Status.ACCEPTED, provider_id="B2"), per), 1)
        await ledger.after_send(Batch("w", 1, Numbers(["46709999999"])),
                                BatchResult(Outcome(Status.FAILED, code="400")), 1)
        recorded = {c: await store.sent_of(c) for c in ("w", "e")}
        found = await store.find_sent("B1", numbers[7])
        counts = await store.counts("w")
    assert sorted(s.msisdn for s in recorded["w"]) == sorted(s.msisdn for s in recorded["e"]) == sorted(numbers)
    assert set(recorded["w"]) == {Sent("w", n, "B1", 7.0) for n in numbers}
    assert found == ("w", numbers[7]) and counts["sent"] == 250  # the failed batch recorded nothing
