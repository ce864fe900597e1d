"""Where a campaign keeps its book: who was admitted, what each batch became.

The engine calls a ``Ledger`` at three moments: when recipients are admitted
(deduplication), just before a batch's request leaves (``before_send``), and
when its outcome is known (``after_send``). ``MemoryLedger`` keeps only what
deduplication needs; the SQLite journal makes the same calls durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bulksend.core.seen import SeenNumbers
from bulksend.models import Batch, BatchResult, Recipient, keep_only, keys_of


class Ledger(Protocol):
    async def admit(self, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        """The recipients not seen before in this campaign, in order."""
        ...

    async def before_send(self, batch: Batch) -> None: ...

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None: ...

    async def skipped(self, batch: Batch) -> None:
        """The batch was taken off the queue but never sent (stop, refusal)."""
        ...

    async def close(self) -> None: ...


class MemoryLedger:
    """Deduplication in memory (``SeenNumbers``: 8 bytes a number); nothing
    survives the process."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen = SeenNumbers()

    async def admit(self, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        fresh = self._seen.take(keys_of(recipients))
        if fresh.all():
            return recipients
        return keep_only(recipients, fresh.tolist())

    async def before_send(self, batch: Batch) -> None:
        return None

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        return None

    async def skipped(self, batch: Batch) -> None:
        return None

    async def close(self) -> None:
        self._seen = SeenNumbers()
