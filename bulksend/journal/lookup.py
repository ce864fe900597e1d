"""The journal as the delivery side sees it: who was accepted, under which id.

``bulksend listen`` and ``bulksend track`` tie a delivery report to a
recipient. ``JournalLookup`` opens the journal read-only on first use (it
does not take the sender's lock, so it works while a campaign is being
sent) and answers ``(campaign, msisdn)`` for a provider id and a number,
and, for ``track``, every recipient of a campaign the provider accepted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bulksend.journal import store
from bulksend.journal.journal import Journal


class JournalLookup:
    """``ProviderIdLookup`` over a journal file that may not exist yet."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._journal: Journal | None = None
        self._opening: asyncio.Lock | None = None

    async def find_by_provider_id(self, provider_id: str, msisdn: str) -> tuple[str, str] | None:
        journal = await self._open()
        if journal is None:
            return None
        return await journal.find_by_provider_id(provider_id, msisdn)

    async def accepted_at(self, provider_id: str, msisdn: str) -> float | None:
        journal = await self._open()
        return None if journal is None else await journal.accepted_at(provider_id, msisdn)

    async def accepted_of(self, campaign: str) -> tuple[str, list[store.AcceptedRecipient]] | None:
        """The plan ``campaign`` was sent through and its accepted recipients
        ``(provider_id, msisdn, accepted_at)``; None when the journal does not know it."""
        journal = await self._open()
        if journal is None or journal.empty:
            return None
        record = await journal.campaign(campaign)
        if record is None:
            return None
        return record.target.plan, await journal.read(store.accepted_recipients, record.id)

    async def _open(self) -> Journal | None:
        if self._journal is not None and not self._journal.empty:
            return self._journal
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._journal is not None and self._journal.empty:
                await self._journal.close()  # opened before any campaign: look again
                self._journal = None
            if self._journal is None and self.path.exists():
                self._journal = await Journal.open(self.path, readonly=True)
        return self._journal

    async def close(self) -> None:
        if self._journal is not None:
            await self._journal.close()
            self._journal = None
