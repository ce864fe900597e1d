"""``bulksend status``: the journal's campaigns, or one campaign in detail; ``--watch`` redraws it."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from bulksend.cli.common import print_json, run_loop
from bulksend.cli.json_out import status_unjournaled, status_view
from bulksend.cli.render import status_list, status_one
from bulksend.cli.runs import add_journal, optional_config, settings_for

if TYPE_CHECKING:
    from bulksend.campaigns.status import CampaignView
    from bulksend.config import Config

#: states in which a campaign is still moving (``--watch`` stops when none is)
MOVING = ("running", "staging", "scheduled")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status", help="list campaigns, or show one",
        description="List the journal's campaigns with their progress and start times, or show one "
                    "campaign's counts by state, rate, ETA and last errors. Works while a send runs.")
    p.add_argument("campaign", nargs="?", help="show this campaign in detail")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="config whose [journal] path to use, its plans also bound what is shown in flight "
                        "(default: $BULKSEND_CONFIG, else ./bulksend.toml)")
    add_journal(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--watch", "-w", action="store_true",
                   help="redraw every --interval seconds until the campaigns are done (or Ctrl-C)")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                   help="seconds between redraws with --watch (default 1)")
    p.set_defaults(func=run)


async def _status(path: str, name: str | None, config: Config | None,
                  args: argparse.Namespace | None = None) -> tuple[str, Any, list[CampaignView]]:
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
                    return text, status_unjournaled(name, delivery), []
            view = await campaign_view(journal, name, config)
            text = status_one(view, config_path=getattr(args, "config", None),
                              journal=getattr(args, "journal", None))
            delivery = await delivery_summary(path, name, accepted=view.counts.accepted)
            if delivery.get("reported"):
                text += "\ndelivery\n" + "\n".join(format_delivery(delivery))
            return text, status_view(view.to_dict(), delivery if delivery.get("reported") else None), [view]
        views = await list_views(journal, config)
        return status_list(views), [status_view(v.to_dict()) for v in views], views


def run(args: argparse.Namespace) -> int:
    config = optional_config(args)
    settings = settings_for(args, config)
    if args.watch and not args.json:
        return _watch(args, settings.path, config)
    text, data, _views = run_loop(_status(settings.path, args.campaign, config, args))
    if args.json:
        print_json(data)
    else:
        print(text)
    return 0


def _watch(args: argparse.Namespace, path: str, config: Config | None) -> int:
    """Redraw in place on a terminal (plain snapshots otherwise) until nothing moves, or Ctrl-C."""
    interval = max(0.1, args.interval)
    live = _live() if sys.stdout.isatty() else None
    try:
        while True:
            text, _data, views = run_loop(_status(path, args.campaign, config, args))
            if live is not None:
                live.update(_text(text), refresh=True)
            else:
                print(text + "\n", flush=True)
            if not any(v.state in MOVING for v in views):
                return 0
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()


def _live() -> Any:
    from rich.console import Console
    from rich.live import Live

    live = Live(console=Console(highlight=False), auto_refresh=False, transient=False,
                redirect_stdout=False, redirect_stderr=False)
    live.start()
    return live


def _text(text: str) -> Any:
    from rich.text import Text

    return Text(text, no_wrap=True, overflow="ellipsis")
