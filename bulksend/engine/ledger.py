"""Where a campaign keeps its book: who was admitted, what each batch became.

The engine calls a ``Ledger`` at three moments: when recipients are admitted
(deduplication), just before a batch's request leaves (``before_send``), and
when its outcome is known (``after_send``). ``MemoryLedger`` keeps only what
deduplication needs; the SQLite journal makes the same calls durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bulksend.models import Batch, BatchResult, Recipient


class Ledger(Protocol):
    async def admit(self, recipients: Sequence[Recipient]) -> list[Recipient]:
        """The recipients not seen before in this campaign, in order."""
        ...

    async def before_send(self, batch: Batch) -> None: ...

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None: ...

    async def skipped(self, batch: Batch) -> None:
        """The batch was taken off the queue but never sent (stop, refusal)."""
        ...

    async def close(self) -> None: ...


class MemoryLedger:
    """Deduplication in memory; nothing survives the process.

    Numbers are kept as ints: a set of a million ints takes about 60 MB
    where the same set of strings would take about 100 MB.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[int] = set()

    async def admit(self, recipients: Sequence[Recipient]) -> list[Recipient]:
        seen = self._seen
        keys = set(map(int, (r.msisdn for r in recipients)))
        if len(keys) == len(recipients) and seen.isdisjoint(keys):
            seen |= keys  # the common case: nothing repeats, all in C
            return list(recipients)
        fresh: list[Recipient] = []
        for r in recipients:
            key = int(r.msisdn)
            if key not in seen:
                seen.add(key)
                fresh.append(r)
        return fresh

    async def before_send(self, batch: Batch) -> None:
        return None

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        return None

    async def skipped(self, batch: Batch) -> None:
        return None

    async def close(self) -> None:
        self._seen.clear()
