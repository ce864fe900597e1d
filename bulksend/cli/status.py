"""``bulksend status``: the journal's campaigns, or one campaign in detail."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import print_json, run_loop
from bulksend.cli.json_out import status_unjournaled, status_view
from bulksend.cli.render import status_list, status_one
from bulksend.cli.runs import add_journal, optional_config, settings_for


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status", help="list campaigns, or show one",
        description="List the journal's campaigns with their progress and start times, or show one "
                    "campaign's counts by state, rate, ETA and last errors. Works while a send runs.")
    p.add_argument("campaign", nargs="?", help="show this campaign in detail")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="config whose [journal] path to use (default: $BULKSEND_CONFIG, else ./bulksend.toml)")
    add_journal(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


async def _status(path: str, name: str | None) -> tuple[str, Any]:
    from bulksend.campaigns.status import campaign_view, list_views
    from bulksend.delivery.api import summary as delivery_summary
    from bulksend.delivery.summary import format_delivery
    from bulksend.journal import Journal

    async with await Journal.open(path, readonly=True) as journal:
        if name:
            if await journal.campaign(name) is None:
                delivery = await delivery_summary(path, name)
                if delivery["accepted"]:  # sent without the journal: its delivery is all there is to show
                    text = (f"campaign {name}: sent without the journal (no per-batch record)\ndelivery\n"
                            + "\n".join(format_delivery(delivery)))
                    return text, status_unjournaled(name, delivery)
            view = await campaign_view(journal, name)
            text = status_one(view)
            delivery = await delivery_summary(path, name, accepted=view.counts.accepted)
            if delivery.get("reported"):
                text += "\ndelivery\n" + "\n".join(format_delivery(delivery))
            return text, status_view(view.to_dict(), delivery if delivery.get("reported") else None)
        views = await list_views(journal)
        return status_list(views), [status_view(v.to_dict()) for v in views]


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args, optional_config(args))
    text, data = run_loop(_status(settings.path, args.campaign))
    if args.json:
        print_json(data)
    else:
        print(text)
    return 0
