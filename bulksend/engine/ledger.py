"""Where a campaign keeps its book: what each batch became.

The engine calls a ``Ledger`` at two moments of a batch: just before its
request leaves (``before_send``) and when its outcome is known
(``after_send``), or ``skipped`` when it never left. Which recipients a
campaign takes (deduplication) is not a ledger's business: the intake
(``bulksend.lists.screen``) drops repeats, with the numbers a journal
already holds as its seed. ``MemoryLedger`` keeps nothing; the SQLite
journal makes the same calls durable.
"""

from __future__ import annotations

from typing import Protocol

from bulksend.models import Batch, BatchResult


class Ledger(Protocol):
    async def before_send(self, batch: Batch) -> None: ...

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None: ...

    async def skipped(self, batch: Batch) -> None:
        """The batch was taken off the queue but never sent (stop, refusal)."""
        ...

    async def close(self) -> None: ...


class MemoryLedger:
    """A run without a journal: nothing is recorded, nothing survives the process."""

    __slots__ = ()

    async def before_send(self, batch: Batch) -> None:
        return None

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        return None

    async def skipped(self, batch: Batch) -> None:
        return None

    async def close(self) -> None:
        return None
