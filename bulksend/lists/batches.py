"""Cutting a screened block into batches: the one cutter, for every path.

While a list is sent it is read a block at a time, a whole number of
batches' worth of lines a block (``send_block``), and each block is cut on
its own: its last batch is short only when some of its lines were dropped
(bad, excluded, repeated). So a batch never straddles two blocks, and a
journal writes a block and the batches cut from it in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from bulksend.lists.sources import SEND_BLOCK
from bulksend.models import Batch, Numbers, Recipient

#: batches a block holds at most: a journal has them in flight from their
#: block's commit, so this bounds how many a crash leaves to look up
BLOCK_BATCHES = 2_048


def send_block(batch_size: int, block: int | None = None) -> int:
    """Lines a block holds while the list is sent: whole batches, about
    ``block`` lines (default ``SEND_BLOCK``), at most ``BLOCK_BATCHES`` batches."""
    whole = (block or SEND_BLOCK) // batch_size
    return batch_size * max(1, min(BLOCK_BATCHES, whole))


def cut(campaign: str, first_seq: int, recipients: Sequence[Recipient], size: int) -> list[Batch]:
    """A block's recipients as batches of ``size``, numbered from ``first_seq``.

    ``Numbers`` (a static body) are cut into slices of the reader's text, no
    copy; recipients with template values into tuples.
    """
    static = isinstance(recipients, Numbers)
    return [Batch(campaign, first_seq + k, chunk if static else tuple(chunk))
            for k, chunk in enumerate(recipients[start:start + size] for start in range(0, len(recipients), size))]
