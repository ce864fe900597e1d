"""A ``Ledger`` wrapper that remembers what each accepted recipient was called.

Delivery reports name a message by the provider's id (an XMS batch id, a
Clickatell ``apiMessageId``, a Classic ``messageId``) or by the batch's
client reference. ``DeliveryLedger`` wraps the campaign's real ledger (the
in-memory one or the journal), passes every call through, and after each
batch writes ``(campaign, msisdn, provider_id, accepted_at)`` for its
accepted recipients to the delivery store, in one group-committed write: a
batch accepted whole is one row holding its numbers' text, whatever its size.
That is what lets ``bulksend listen`` and ``bulksend track`` tie a report to
a recipient and measure accepted → delivered latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bulksend.delivery.model import Sent
from bulksend.delivery.store import DeliveryStore
from bulksend.engine.ledger import Ledger
from bulksend.models import Batch, BatchResult, Numbers, Status


class DeliveryLedger:
    """``Ledger`` that also records accepted recipients in a ``DeliveryStore``."""

    def __init__(self, inner: Ledger, store: DeliveryStore, clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        self.store = store
        self.clock = clock

    async def before_send(self, batch: Batch) -> None:
        await self.inner.before_send(batch)

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        await self.inner.after_send(batch, result, attempts)
        now = self.clock()
        if result.per_recipient is None:  # one answer for the whole batch: one statement
            if result.outcome.status is Status.ACCEPTED:
                numbers = batch.recipients if isinstance(batch.recipients, Numbers) else batch.numbers
                await self.store.record_batch(batch.campaign, numbers, result.outcome.provider_id, now)
            return
        sent = []
        for r in batch.recipients:
            outcome = result.outcome_for(r.msisdn)
            if outcome.status is Status.ACCEPTED:
                sent.append(Sent(batch.campaign, r.msisdn, outcome.provider_id, now))
        await self.store.record_sent(sent)

    async def skipped(self, batch: Batch) -> None:
        await self.inner.skipped(batch)

    async def close(self) -> None:
        await self.inner.close()
