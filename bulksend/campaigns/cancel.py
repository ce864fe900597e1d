"""``bulksend cancel``: a campaign is sent no further, and scheduled batches are withdrawn.

Recipients not yet sent are never sent. Batches the provider accepted with
a ``send_at`` still in the future (Sinch XMS holds them until then) are
cancelled at the provider (XMS: ``DELETE .../batches/{id}``); batches left
in flight are first reconciled, so one the provider did take is withdrawn
too. A campaign bulksend itself holds (a provider without scheduling) has
sent nothing, so marking it cancelled is all there is to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bulksend.config import Config
from bulksend.engine import Engine
from bulksend.errors import ConfigError, InputError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.campaigns.reconcile import cancel_accepted, reconcile
from bulksend.journal.records import CampaignState, Counts
from bulksend.campaigns.schedule import start_time
from bulksend.journal.settings import JournalSettings


@dataclass(frozen=True, slots=True)
class CancelSummary:
    campaign: str
    was: str
    withdrawn_batches: int
    withdrawn_recipients: int
    counts: Counts
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "was": self.was, "withdrawn_batches": self.withdrawn_batches,
                "withdrawn_recipients": self.withdrawn_recipients, "counts": self.counts.to_dict(),
                "failures": list(self.failures), "notes": list(self.notes)}


async def cancel_campaign(settings: JournalSettings, name: str, config: Config | None = None, *,
                          env: Mapping[str, str] | None = None,
                          clock: Callable[[], float] = time.time) -> CancelSummary:
    async with await Journal.open(settings.path, synchronous=settings.synchronous,
                                  busy_timeout=settings.busy_timeout, clock=clock) as journal:
        c = await journal.campaign(name)
        if c is None:
            raise InputError(f"no campaign named {name!r} in journal {journal.path}")
        was = c.state.value
        scheduled_there = c.start_at is None and c.message.send_at is not None
        pending_there = scheduled_there and (start_time(c.message) or 0) > clock()
        batches = recipients = 0
        failures: list[str] = []
        notes: list[str] = []
        if pending_there:
            if config is None:
                raise ConfigError(f"campaign {name!r} has batches scheduled at the provider for "
                                  f"{c.message.send_at}; give --config so they can be cancelled there")
            async with Engine(config, env=env) as engine:
                runner = engine.plan_runner(c.target.plan)
                calls = runner.calls
                await reconcile(journal, c, calls, resend_unknown=False)
                done = await cancel_accepted(journal, c, calls)
                batches, recipients = done.batches, done.recipients
                failures = list(done.failures or ())
        elif scheduled_there:
            notes.append(f"send_at {c.message.send_at} has passed: what was accepted is already out")
        await journal.write(store.set_state, c.id, CampaignState.CANCELLED, "cancelled by the operator",
                            journal.clock())
        counts = await journal.read(store.counts, c.id)
        return CancelSummary(c.name, was, batches, recipients, counts, tuple(failures), tuple(notes))
