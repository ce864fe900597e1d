"""``bulksend listen``: receive delivery reports and inbound messages."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from typing import Any

from bulksend.api import as_config
from bulksend.cli.common import add_config
from bulksend.config import is_loopback_url
from bulksend.delivery.api import delivery_db_path
from bulksend.errors import InputError
from bulksend.runtime import run as run_loop
from bulksend.serving import RESERVED_FDS, ServeLimits
from bulksend.webhooks.app import MAX_BODY, serve_listener


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
    d = ServeLimits()
    p.add_argument("--max-connections", type=int, default=d.max_connections, metavar="N",
                   help=f"connections held at once (default {d.max_connections}, and never more than the "
                        f"open-file limit less {RESERVED_FDS}); more are answered 503 and closed")
    p.add_argument("--read-timeout", type=float, default=d.header_timeout, metavar="SECONDS",
                   help=f"time for a request's head, and again for its body, to arrive (default "
                        f"{d.header_timeout:g}); slower is 408 and closed")
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout, metavar="SECONDS",
                   help=f"a keep-alive connection idle this long is closed (default {d.idle_timeout:g})")
    p.set_defaults(func=run)


def limits_of(args: argparse.Namespace) -> ServeLimits:
    """The options as ``ServeLimits``; a bad value is an input error (one line, exit 2)."""
    if args.max_body < 1:
        raise InputError(f"--max-body {args.max_body}: must be at least 1 byte")
    if args.max_connections < 1:
        raise InputError(f"--max-connections {args.max_connections}: must be at least 1")
    for flag, value in (("--read-timeout", args.read_timeout), ("--idle-timeout", args.idle_timeout)):
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{flag} {value:g}: must be a finite number of seconds above 0")
    if not math.isfinite(args.resolve_wait) or args.resolve_wait < 0:
        raise InputError(f"--resolve-wait {args.resolve_wait:g}: must be a finite number of seconds, 0 or more")
    return ServeLimits(args.max_connections, args.read_timeout, args.read_timeout, args.idle_timeout)


def run(args: argparse.Namespace) -> int:
    limits = limits_of(args)
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
                                max_body=args.max_body, resolve_wait=args.resolve_wait, ready=ready,
                                limits=limits))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except OSError as exc:
        print(f"bulksend: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
