"""``bulksend track``: poll the provider for a campaign's delivery statuses."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import add_config, print_json
from bulksend.cli.common import run_loop


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "track", help="poll delivery statuses of a campaign",
        description="Ask the provider (Sinch XMS delivery reports, Sinch Classic message status) what became "
                    "of every accepted recipient without a final status, at the plan's rate.")
    add_config(p)
    p.add_argument("campaign", help="the campaign name")
    p.add_argument("--plan", required=True, help="the [plans.NAME] the campaign was sent through")
    p.add_argument("--db", metavar="FILE", help="delivery tables live here (default: the journal, .bulksend/journal.db or [journal] path)")
    p.add_argument("--json", action="store_true", help="print the result and summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.api import as_config
    from bulksend.delivery.api import delivery_db_path, track
    from bulksend.delivery.summary import format_delivery

    config = as_config(args.config)
    result, summary = run_loop(track(config, delivery_db_path(config, args.db), args.campaign, args.plan))
    if args.json:
        from bulksend.cli.json_out import track_document

        print_json(track_document(result, summary))
        return 0
    print(f"campaign {args.campaign}: {result.candidates:,} without a final status, {result.requests:,} requests, "
          f"{result.updated:,} updated ({result.final:,} final), {result.errors:,} failed polls")
    print("\n".join(format_delivery(summary)))
    return 0
