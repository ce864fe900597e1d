"""Where each campaign of a journal stands, as values (``CampaignView``).

``bulksend status`` opens the journal read-only, without taking its lock,
so this works while a ``send`` is running (SQLite's WAL lets a reader see
the last commit). The text it prints is made in ``bulksend.cli.render``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulksend.errors import InputError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.journal.lock import held_by
from bulksend.journal.records import CampaignRecord, CampaignState, Counts, iso_utc


@dataclass(frozen=True, slots=True)
class CampaignView:
    record: CampaignRecord
    counts: Counts
    #: who is sending it now ("pid 1234"), None when no process holds the journal
    holder: str | None = None
    rate: float = 0.0
    eta_s: float | None = None
    last_errors: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        c = self.record
        if c.state in (CampaignState.RUNNING, CampaignState.STAGING) and self.holder is None:
            return "interrupted"  # the process that ran it is gone: resume it
        return c.state.value

    @property
    def start(self) -> str:
        c = self.record
        if c.start_at is not None:
            return iso_utc(c.start_at) + " (held by bulksend)"
        return f"{c.message.send_at} (at the provider)" if c.message.send_at else ""

    def to_dict(self) -> dict[str, Any]:
        c = self.record
        return {
            "campaign": c.name, "state": self.state, "reason": c.reason, "plan": c.target.plan,
            "provider": c.target.provider, "start": self.start, "counts": self.counts.to_dict(),
            "read": c.read, "invalid": c.invalid, "duplicates": c.duplicates, "excluded": c.excluded,
            "staged": c.staged, "rate": round(self.rate, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s), "last_errors": list(self.last_errors),
            "created_at": iso_utc(c.created_at), "updated_at": iso_utc(c.updated_at), "parts": c.parts,
        }


async def list_views(journal: Journal) -> list[CampaignView]:
    holder = held_by(journal.path)
    return [CampaignView(c, await journal.read(store.counts, c.id), holder) for c in await journal.campaigns()]


async def campaign_view(journal: Journal, name: str) -> CampaignView:
    c = await journal.campaign(name)
    if c is None:
        known = ", ".join(x.name for x in await journal.campaigns()) or "none"
        raise InputError(f"no campaign named {name!r} in journal {journal.path} (campaigns: {known})")
    counts = await journal.read(store.counts, c.id)
    rate = await journal.read(store.recent_rate, c.id)
    eta = counts.pending / rate if rate > 0 and counts.pending else None
    errors = tuple(await journal.read(store.last_errors, c.id))
    return CampaignView(c, counts, held_by(journal.path), rate, eta, errors)

