"""``bulksend cancel``: send a campaign no further; withdraw its scheduled batches."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import print_json
from bulksend.cli.render import cancel_text
from bulksend.cli.runs import add_journal, optional_config, settings_for
from bulksend.cli.common import run_loop


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "cancel", help="cancel a campaign",
        description="Mark a campaign cancelled: nothing more of it is sent. Batches the provider holds "
                    "for a future send_at (Sinch XMS) are cancelled there too, which needs --config.")
    p.add_argument("campaign", help="the campaign's name")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="config with the campaign's plan (default: $BULKSEND_CONFIG, else ./bulksend.toml)")
    add_journal(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.campaigns.cancel import cancel_campaign

    config = optional_config(args)
    result = run_loop(cancel_campaign(settings_for(args, config), args.campaign, config))
    if args.json:
        print_json(result.to_dict())
    else:
        print(cancel_text(result))
    return 1 if result.failures else 0
