"""``bulksend status``: the journal's campaigns, or one campaign in detail."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import print_json
from bulksend.delivery.api import summary as delivery_summary
from bulksend.delivery.summary import format_delivery
from bulksend.cli.runs import add_journal, optional_config, settings_for
from bulksend.journal import Journal
from bulksend.campaigns.status import campaign_view, list_views
from bulksend.cli.render import status_list, status_one
from bulksend.runtime import run as run_loop


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status", help="list campaigns, or show one",
        description="List the journal's campaigns with their progress and start times, or show one "
                    "campaign's counts by state, rate, ETA and last errors. Works while a send runs.")
    p.add_argument("campaign", nargs="?", help="show this campaign in detail")
    p.add_argument("--config", "-c", metavar="FILE", help="config whose [journal] path to use")
    add_journal(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


async def _status(path: str, name: str | None) -> tuple[str, Any]:
    async with await Journal.open(path, readonly=True) as journal:
        if name:
            if await journal.campaign(name) is None:
                delivery = await delivery_summary(path, name)
                if delivery["accepted"]:  # sent without the journal: its delivery is all there is to show
                    text = (f"campaign {name}: sent without the journal (no per-batch record)\ndelivery\n"
                            + "\n".join(format_delivery(delivery)))
                    return text, {"campaign": name, "journaled": False, "delivery": delivery}
            view = await campaign_view(journal, name)
            text, data = status_one(view), view.to_dict()
            delivery = await delivery_summary(path, name, accepted=view.counts.accepted)
            if delivery.get("reported"):
                text += "\ndelivery\n" + "\n".join(format_delivery(delivery))
                data["delivery"] = delivery
            return text, data
        views = await list_views(journal)
        return status_list(views), [v.to_dict() for v in views]


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args, optional_config(args))
    text, data = run_loop(_status(settings.path, args.campaign))
    if args.json:
        print_json(data)
    else:
        print(text)
    return 0
