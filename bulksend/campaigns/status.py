"""Where each campaign of a journal stands, as values (``CampaignView``).

``bulksend status`` opens the journal read-only, without taking its lock,
so this works while a ``send`` is running (SQLite's WAL lets a reader see
the last commit). The text it prints is made in ``bulksend.cli.render``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulksend.config import Config
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
    #: recipients its plan can have in requests at once (concurrency x max_batch), when the config is known
    in_flight_cap: int | None = None

    @property
    def sending(self) -> int:
        """Recipients in requests now. A running campaign writes batches to the journal in flight a
        little ahead of sending them; those beyond what its plan can have out at once are ``ahead``."""
        n = self.counts.in_flight
        if self.in_flight_cap is None or self.state != "running":
            return n
        return min(n, self.in_flight_cap)

    @property
    def ahead(self) -> int:
        """Recipients written in flight ahead of their request (see ``sending``)."""
        return self.counts.in_flight - self.sending

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
            "staged": c.staged, "rate": round(self.rate, 1), "sending": self.sending,
            "written_ahead": self.ahead,
            "eta_s": None if self.eta_s is None else round(self.eta_s), "last_errors": list(self.last_errors),
            "created_at": iso_utc(c.created_at), "updated_at": iso_utc(c.updated_at), "parts": c.parts,
        }


def in_flight_cap(config: Config | None, record: CampaignRecord) -> int | None:
    """concurrency x max_batch of the campaign's plan (its ``max_concurrency`` when "auto"), if known."""
    plan = config.plans.get(record.target.plan) if config is not None else None
    if plan is None:
        return None
    most = plan.max_concurrency if plan.auto_concurrency else plan.concurrency
    return most * (record.max_batch or plan.max_batch)


async def list_views(journal: Journal, config: Config | None = None) -> list[CampaignView]:
    holder = held_by(journal.path)
    return [CampaignView(c, await journal.read(store.counts, c.id), holder, in_flight_cap=in_flight_cap(config, c))
            for c in await journal.campaigns()]


async def campaign_view(journal: Journal, name: str, config: Config | None = None) -> CampaignView:
    c = await journal.campaign(name)
    if c is None:
        known = ", ".join(x.name for x in await journal.campaigns()) or "none"
        raise InputError(f"no campaign named {name!r} in journal {journal.path} (campaigns: {known})")
    counts = await journal.read(store.counts, c.id)
    rate = await journal.read(store.recent_rate, c.id)
    eta = counts.pending / rate if rate > 0 and counts.pending else None
    errors = tuple(await journal.read(store.last_errors, c.id))
    return CampaignView(c, counts, held_by(journal.path), rate, eta, errors, in_flight_cap=in_flight_cap(config, c))

