"""The public functions behind ``bulksend listen`` and ``bulksend track``.

::

    import asyncio, bulksend
    from bulksend.delivery.api import track

    result, summary = asyncio.run(track(bulksend.load_config("c.toml"), "bulksend.db", "spring", "spring"))
    print(summary["delivered"], summary["pending"], summary["latency_s"])
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bulksend.config import Config
from bulksend.delivery.resolve import ProviderIdLookup, Resolver
from bulksend.delivery.store import SqliteDeliveryStore
from bulksend.delivery.summary import delivery_summary
from bulksend.delivery.tracker import TrackResult, track_campaign
from bulksend.webhooks.app import MAX_BODY, build_listener, listening



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


async def serve_listener(
    config: Config, db: str | Path, *, port: int, host: str = "127.0.0.1", env: Mapping[str, str] | None = None,
    inbound_file: str | None = None, max_body: int = MAX_BODY, resolve_wait: float = 2.0,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the webhook receiver until cancelled."""
    async with SqliteDeliveryStore(db) as store:
        app = build_listener(config, store, env=os.environ if env is None else env,
                             resolver=Resolver(store, journal_lookup(str(db))), inbound_file=inbound_file,
                             max_body=max_body, resolve_wait=resolve_wait)
        async with listening(app, port, host) as running:
            if ready is not None:
                ready(running.url)
            await asyncio.Event().wait()


async def track(
    config: Config, db: str | Path, campaign: str, plan: str, *, env: Mapping[str, str] | None = None,
) -> tuple[TrackResult, dict[str, Any]]:
    """Poll once for ``campaign`` and return what was found and the delivery summary."""
    async with SqliteDeliveryStore(db) as store:
        result = await track_campaign(config, store, campaign, plan, env=env)
        return result, await delivery_summary(store, campaign)


async def summary(db: str | Path, campaign: str, *, accepted: int | None = None) -> dict[str, Any]:
    """The delivery summary of ``campaign`` (what ``bulksend status`` shows); only reads."""
    async with SqliteDeliveryStore(db, readonly=True) as store:
        return await delivery_summary(store, campaign, accepted=accepted)
