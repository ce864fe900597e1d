"""Which campaign and recipient a delivery report is about.

A report names its message in one of two ways: by the batch's client
reference (``"campaign:seq"``, XMS) together with the number, or by the
provider's own id (XMS batch id + number, Clickatell ``apiMessageId``,
Classic ``messageId``). ``Resolver`` tries, in order:

1. the delivery store's own record of accepted recipients (``DeliveryLedger``);
2. the campaign journal, through ``Journal.find_by_provider_id``, when one
   is bound (``JournalLookup``);
3. for a client reference: the campaign it names, if the number was sent in
   it — only when the report names no provider id. A report naming a batch or
   message id that neither the store nor the journal knows is unknown even
   if its client reference names a known campaign (anyone can write a
   client reference; only the provider knows the batch id).

A report that none of them knows is *unknown*: nothing is stored.
"""

from __future__ import annotations

from typing import Protocol

from bulksend.delivery.model import Sent
from bulksend.delivery.store import DeliveryStore
from bulksend.providers.callbacks import Ref

__all__ = ["ProviderIdLookup", "Ref", "Resolver", "campaign_of"]


class ProviderIdLookup(Protocol):
    """What the journal offers: ``find_by_provider_id(provider_id, msisdn)``."""

    async def find_by_provider_id(self, provider_id: str, msisdn: str) -> tuple[str, str] | None: ...

    async def accepted_at(self, provider_id: str, msisdn: str) -> float | None: ...


def campaign_of(client_reference: str) -> str | None:
    """``"spring:12"`` → ``"spring"``; None when it is not a bulksend reference."""
    campaign, sep, seq = client_reference.rpartition(":")
    if not sep or not campaign or not seq.isdigit():
        return None
    return campaign


class Resolver:
    """Resolves report references against the store and, if bound, the journal."""

    def __init__(self, store: DeliveryStore, journal: ProviderIdLookup | None = None) -> None:
        self.store = store
        self.journal = journal

    async def _remember(self, found: tuple[str, str], provider_id: str) -> None:
        """Keep the journal's acceptance time beside the report, so latency can be measured."""
        assert self.journal is not None
        when = await self.journal.accepted_at(provider_id, found[1])
        if when is not None:
            await self.store.record_sent([Sent(found[0], found[1], provider_id, when)])

    async def resolve(self, ref: Ref) -> tuple[str, str] | None:
        if ref.provider_id:
            found = await self.store.find_sent(ref.provider_id, ref.msisdn or None)
            if found is not None:
                return found
            if self.journal is not None:
                found = await self.journal.find_by_provider_id(ref.provider_id, ref.msisdn)
                if found is not None:
                    await self._remember(found, ref.provider_id)
                    return found
            return None
        campaign = campaign_of(ref.client_reference) if ref.client_reference else None
        if campaign is not None and ref.msisdn and await self.store.was_sent(campaign, ref.msisdn):
            return campaign, ref.msisdn
        return None
