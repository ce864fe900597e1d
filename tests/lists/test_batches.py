"""The one cutter: a screened block into batches."""

from __future__ import annotations

from bulksend.lists.batches import BLOCK_BATCHES, cut, send_block
from bulksend.lists.sources import SEND_BLOCK
from bulksend.models import Numbers, Recipient


def test_numbers_are_cut_into_slices_and_the_last_batch_is_short() -> None:
    block = Numbers([str(46700000000 + i) for i in range(7)])
    batches = cut("c", 4, block, 3)
    assert [(b.seq, b.size) for b in batches] == [(4, 3), (5, 3), (6, 1)]
    assert all(isinstance(b.recipients, Numbers) for b in batches)
    assert [r.msisdn for b in batches for r in b.recipients] == list(block.numbers)


def test_recipients_with_values_are_cut_into_tuples() -> None:
    block = [Recipient("46700000001", {"name": "A"}, 2), Recipient("46700000002", {"name": "B"}, 3)]
    (batch,) = cut("c", 0, block, 5)
    assert batch.recipients == tuple(block)
    assert cut("c", 0, [], 5) == []


def test_a_block_holds_whole_batches_and_never_too_many() -> None:
    assert send_block(200) == SEND_BLOCK // 200 * 200
    assert send_block(1) == BLOCK_BATCHES  # small batches: at most BLOCK_BATCHES of them
    assert send_block(50_000) == 50_000  # one batch at least
    assert send_block(5, block=4) == 5
