"""``bulksend track``: poll the provider for a campaign's delivery statuses."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import add_config, print_json, run_loop
from bulksend.cli.runs import add_journal, settings_for


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "track", help="poll delivery statuses of a campaign",
        description="Ask the provider (Sinch XMS delivery reports, Sinch Classic message status) what became "
                    "of every accepted recipient without a final status, at the plan's rate. Who was accepted "
                    "comes from the journal (any journaled send or resume) and from the delivery tables "
                    "(sends with --no-journal or from Python).")
    add_config(p)
    p.add_argument("campaign", help="the campaign name")
    p.add_argument("--plan", help="the [plans.NAME] to poll through (default: the one the journal says the "
                                  "campaign was sent through; needed for a send without the journal)")
    add_journal(p)
    p.add_argument("--db", metavar="FILE",
                   help="where the delivery tables live (default: the journal's file)")
    p.add_argument("--json", action="store_true", help="print the result and summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.api import as_config
    from bulksend.delivery.api import track
    from bulksend.delivery.summary import format_delivery

    config = as_config(args.config)
    journal = settings_for(args, config).path
    result, summary = run_loop(track(config, args.db or journal, args.campaign, args.plan, journal=journal))
    if args.json:
        from bulksend.cli.json_out import track_document

        print_json(track_document(result, summary))
        return 0
    print(f"campaign {args.campaign}: {result.candidates:,} of {result.accepted:,} accepted without a final "
          f"status, {result.requests:,} requests, {result.updated:,} updated ({result.final:,} final), "
          f"{result.errors:,} failed polls")
    print("\n".join(format_delivery(summary)))
    return 0
