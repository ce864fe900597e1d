"""The public functions behind ``bulksend track`` and the delivery part of ``bulksend status``.

(``bulksend listen`` is ``bulksend.webhooks.serve_listener``: the receiver sits
above delivery and uses its store.)

::

    import asyncio, bulksend
    from bulksend.delivery.api import track

    result, summary = asyncio.run(track(bulksend.load_config("c.toml"), ".bulksend/journal.db", "spring"))
    print(summary["delivered"], summary["pending"], summary["latency_s"])

``track`` finds who was accepted in the journal (any journaled ``send`` or
``resume``) and in the delivery store (sends without a journal write their
accepted recipients there, ``DeliveryLedger`` too); the plan defaults to the
one the journal says the campaign was sent through.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulksend.config import Config
from bulksend.delivery.ledger import DeliveryLedger
from bulksend.delivery.model import Sent
from bulksend.delivery.store import SqliteDeliveryStore
from bulksend.delivery.summary import delivery_summary
from bulksend.delivery.tracker import TrackResult, track_campaign
from bulksend.engine.ledger import MemoryLedger
from bulksend.engine.transport import Transport
from bulksend.errors import InputError

if TYPE_CHECKING:  # the journal (and numpy) load only when a journal is read
    from bulksend.journal.lookup import JournalLookup


def delivery_db_path(config: Config, given: str | None = None) -> str:
    """``--db``, else the journal's file: the delivery tables live beside the journal's,
    so reports are tied to the recipients the journal says were sent."""
    if given:
        return given
    from bulksend.journal.settings import journal_settings

    return journal_settings(config).path


@contextlib.asynccontextmanager
async def recording_sends(db: str | Path) -> AsyncIterator[DeliveryLedger]:
    """The ledger of a send without the journal: deduplication in memory, and every
    accepted recipient written to the delivery tables in ``db`` (by default the
    journal's file), so that ``track`` polls it and ``listen`` ties its reports."""
    async with SqliteDeliveryStore(db) as store:
        yield DeliveryLedger(MemoryLedger(), store)


def journal_lookup(db: str) -> JournalLookup:
    """The journal's ``find_by_provider_id`` over ``db`` (opened read-only when first needed)."""
    from bulksend.journal.lookup import JournalLookup

    return JournalLookup(db)


async def track(
    config: Config, db: str | Path, campaign: str, plan: str | None = None, *, journal: str | Path | None = None,
    env: Mapping[str, str] | None = None, transport: Transport | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[TrackResult, dict[str, Any]]:
    """Poll once for ``campaign`` and return what was found and the delivery summary.

    ``journal`` is the campaign journal (default: ``db``, where the delivery
    tables live beside the journal's). A campaign neither the journal nor the
    delivery store knows is an ``InputError``.
    """
    found = await journal_accepted(journal or db, campaign)
    accepted = [Sent(campaign, m, pid, at) for pid, m, at in found[1]] if found else []
    if found is None:
        async with SqliteDeliveryStore(db, readonly=True) as known:  # an unknown name creates no file
            if not (await known.counts(campaign))["sent"]:
                raise InputError(f"no campaign named {campaign!r} in journal {journal or db} "
                                 "and none sent without the journal (see --journal, --db)")
    chosen = plan or (found[0] if found else None)
    if chosen is None:
        raise InputError(f"campaign {campaign!r} was sent without the journal: name its plan with --plan")
    async with SqliteDeliveryStore(db) as store:
        result = await track_campaign(config, store, campaign, chosen, env=env, transport=transport, clock=clock,
                                      accepted=accepted)
        return result, await delivery_summary(store, campaign, accepted=result.accepted)


async def journal_accepted(path: str | Path, campaign: str) -> tuple[str, list[tuple[str, str, float]]] | None:
    """The journal's plan and accepted recipients of ``campaign``; None when it does not know it."""
    lookup = journal_lookup(str(path))
    try:
        return await lookup.accepted_of(campaign)
    finally:
        await lookup.close()


async def summary(db: str | Path, campaign: str, *, accepted: int | None = None) -> dict[str, Any]:
    """The delivery summary of ``campaign`` (what ``bulksend status`` shows); only reads ``db``."""
    async with SqliteDeliveryStore(db, readonly=True) as store:
        return await delivery_summary(store, campaign, accepted=accepted)
