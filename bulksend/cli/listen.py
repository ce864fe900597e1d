"""``bulksend listen``: receive delivery reports and inbound messages."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bulksend.cli.common import add_config
from bulksend.cli.common import run_loop

#: the largest callback body accepted by default (``webhooks.app.MAX_BODY``; a test checks they agree)
MAX_BODY = 1024 * 1024


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "listen", help="receive delivery reports and inbound messages",
        description="Run the webhook receiver: every plan of the config gets the URL "
                    "/callbacks/PLAN for its provider's delivery reports and inbound messages.")
    add_config(p)
    p.add_argument("--port", type=int, default=8081, help="port (default 8081; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--db", metavar="FILE", help="delivery tables live here (default: the journal, .bulksend/journal.db or [journal] path)")
    p.add_argument("--inbound", metavar="FILE", help="append inbound messages to this JSONL file "
                                                     "instead of the database")
    p.add_argument("--max-body", type=int, default=MAX_BODY, metavar="BYTES",
                   help=f"largest callback body accepted (default {MAX_BODY:,}); larger is 413")
    p.add_argument("--resolve-wait", type=float, default=2.0, metavar="SECONDS",
                   help="how long an unknown report may wait for its send to be recorded (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bulksend.api import as_config
    from bulksend.config import is_loopback_url
    from bulksend.delivery.api import delivery_db_path
    from bulksend.webhooks.app import serve_listener

    config = as_config(args.config)
    if not is_loopback_url(f"http://{args.host}"):
        print(f"bulksend: warning: listening on {args.host}, reachable from other machines; "
              "configure callback secrets (callback_secret_env)", file=sys.stderr)

    def ready(url: str) -> None:
        plans = ", ".join(f"{name} ({plan.provider})" for name, plan in config.plans.items())
        print(f"listening on {url}/callbacks/PLAN for plans: {plans}; stats at {url}/_listen/stats", flush=True)

    db = delivery_db_path(config, args.db)
    try:
        run_loop(serve_listener(config, db, port=args.port, host=args.host, inbound_file=args.inbound,
                                max_body=args.max_body, resolve_wait=args.resolve_wait, ready=ready))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except OSError as exc:
        print(f"bulksend: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
