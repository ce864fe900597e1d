"""The public functions behind ``bulksend track`` and the delivery part of ``bulksend status``.

(``bulksend listen`` is ``bulksend.webhooks.serve_listener``: the receiver sits
above delivery and uses its store.)

::

    import asyncio, bulksend
    from bulksend.delivery.api import track

    result, summary = asyncio.run(track(bulksend.load_config("c.toml"), "bulksend.db", "spring", "spring"))
    print(summary["delivered"], summary["pending"], summary["latency_s"])
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulksend.config import Config
from bulksend.delivery.resolve import ProviderIdLookup
from bulksend.delivery.store import SqliteDeliveryStore
from bulksend.delivery.summary import delivery_summary
from bulksend.delivery.tracker import TrackResult, track_campaign


def delivery_db_path(config: Config, given: str | None = None) -> str:
    """``--db``, else the journal's file: the delivery tables live beside the journal's,
    so reports are tied to the recipients the journal says were sent."""
    if given:
        return given
    from bulksend.journal.settings import journal_settings

    return journal_settings(config).path


def journal_lookup(db: str) -> ProviderIdLookup:
    """The journal's ``find_by_provider_id`` over ``db`` (opened read-only when first needed)."""
    from bulksend.journal.lookup import JournalLookup

    return JournalLookup(db)


async def track(
    config: Config, db: str | Path, campaign: str, plan: str, *, env: Mapping[str, str] | None = None,
) -> tuple[TrackResult, dict[str, Any]]:
    """Poll once for ``campaign`` and return what was found and the delivery summary."""
    async with SqliteDeliveryStore(db) as store:
        result = await track_campaign(config, store, campaign, plan, env=env)
        return result, await delivery_summary(store, campaign)


async def summary(db: str | Path, campaign: str, *, accepted: int | None = None) -> dict[str, Any]:
    """The delivery summary of ``campaign`` (what ``bulksend status`` shows)."""
    async with SqliteDeliveryStore(db) as store:
        return await delivery_summary(store, campaign, accepted=accepted)
