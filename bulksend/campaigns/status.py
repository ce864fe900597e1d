"""``bulksend status``: the campaigns of a journal and where each stands.

Read-only: it opens the journal without taking its lock, so it works while
a ``send`` is running (SQLite's WAL lets a reader see the last commit).
"""

from __future__ import annotations

import time
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
    return CampaignView(c, counts, held_by(journal.path), rate, eta, tuple(await journal.read(store.last_errors, c.id)))


def _progress(v: CampaignView) -> str:
    n = v.counts
    if not v.record.staged:
        return f"staging ({v.record.read:,} read)"
    done = n.settled
    pct = 100.0 * done / n.total if n.total else 100.0
    return f"{done:,}/{n.total:,} {pct:.0f}%"


def render_list(views: list[CampaignView]) -> str:
    if not views:
        return "no campaigns in this journal"
    rows = [("CAMPAIGN", "STATE", "PLAN", "PROGRESS", "FAILED", "UNKNOWN", "START")]
    for v in views:
        rows.append((v.record.name, v.state, v.record.target.plan, _progress(v),
                     f"{v.counts.failed:,}", f"{v.counts.unknown:,}", v.start))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def render_one(v: CampaignView, now: float | None = None) -> str:
    c, n = v.record, v.counts
    state = v.state + (f": {c.reason}" if c.reason else "")
    if v.holder:
        state += f" ({v.holder})"
    lines = [
        f"campaign {c.name} (plan {c.target.plan}, {c.target.provider}"
        + (f" {c.target.account}" if c.target.account else "") + ")",
        f"  state       {state}",
    ]
    if v.start:
        lines.append(f"  start       {v.start}")
    lines += [
        f"  list        {c.source.path}: read {c.read:,}, invalid {c.invalid:,}, duplicates {c.duplicates:,}, "
        f"excluded {c.excluded:,}" + ("" if c.staged else " (the list is still being read)"),
        f"  recipients  {n.total:,}",
        f"  accepted    {n.accepted:>12,}",
        f"  failed      {n.failed:>12,}",
        f"  unknown     {n.unknown:>12,}",
        f"  in flight   {n.in_flight:>12,}",
        f"  pending     {n.pending:>12,}",
    ]
    if n.cancelled:
        lines.append(f"  cancelled   {n.cancelled:>12,}")
    if v.rate:
        eta = f"; ETA {_duration(v.eta_s)} at that rate" if v.eta_s is not None else ""
        lines.append(f"  rate        {v.rate:,.0f} recipients/s over its last minute of sending{eta}")
    age = (now or time.time()) - c.updated_at
    lines.append(f"  updated     {iso_utc(c.updated_at)} ({_duration(max(0.0, age))} ago)")
    for err in v.last_errors:
        lines.append(f"  last error  {err}")
    if v.state in ("paused", "interrupted", "scheduled"):
        lines.append(f"  go on with  bulksend resume {c.name} --config FILE")
    return "\n".join(lines)
