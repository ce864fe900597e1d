"""``bulksend sandbox``: run the embedded provider server."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bulksend.cli.common import port, run_loop

if TYPE_CHECKING:  # the server is imported when it runs, not to parse its options
    from bulksend.sandbox import SandboxConfig


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sandbox", help="run the local sandbox provider",
        description="Run the sandbox provider server on 127.0.0.1. It speaks the Sinch XMS API "
                    "(/xms/v1/PLAN/...), Clickatell (/clickatell/PLAN/...) and Sinch Classic "
                    "(/classic/PLAN/...); stats at /_sandbox/stats.")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="config whose [sandbox] table to use (default: $BULKSEND_CONFIG, else ./bulksend.toml; "
                        "none, or no [sandbox] table: any service plan, no faults)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--seed", type=int, help="seed for the fault dice")
    p.add_argument("--sink", action="store_true", help="count only (fast, for benchmarks)")
    p.add_argument("--open-plans", action="store_true", help="accept any service plan id")
    for name, help_ in (("error-rate", "fraction answered 500/503"),
                        ("rate-limit-rate", "fraction answered 429"),
                        ("drop-rate", "fraction dropped before being taken"),
                        ("accept-drop-rate", "fraction taken, then dropped unanswered"),
                        ("late-accept-rate", "fraction dropped at once, then taken late-accept-ms later"),
                        ("late-accept-ms", "how late a late accept is taken (default 200)"),
                        ("latency-ms", "latency added to every answer"),
                        ("retry-after", "seconds sent in Retry-After")):
        p.add_argument(f"--{name}", type=float, help=help_)
    for name, help_ in (("failed-rate", "fraction of recipients whose delivery fails (code 402)"),
                        ("expired-rate", "fraction of recipients whose message expires (code 406)"),
                        ("delivery-delay", "seconds from dispatch to the final delivery status")):
        p.add_argument(f"--{name}", type=float, help=help_)
    p.set_defaults(func=run)


def sandbox_config(args: argparse.Namespace) -> SandboxConfig:
    from bulksend.providers import load_config
    from bulksend.sandbox import SandboxConfig, sandbox_config_from_table
    from bulksend.sandbox.config import Faults

    table = load_config(args.config).sandbox if args.config else {}
    # A config without a [sandbox] table (say ./bulksend.toml, found by default) gets the embedded default.
    config = sandbox_config_from_table(table, os.environ) if table else SandboxConfig(open_plans=True)
    faults = {k: getattr(args, k) for k in Faults.__dataclass_fields__ if getattr(args, k, None) is not None}
    config = replace(config, faults=replace(config.faults, **faults))
    changes: dict[str, Any] = {}
    if args.sink:
        changes["sink"] = True
    if args.open_plans:
        changes["open_plans"] = True
    if args.seed is not None:
        changes["seed"] = args.seed
    delivery = {k: v for k, v in (("failed_rate", args.failed_rate), ("expired_rate", args.expired_rate),
                                  ("delay", args.delivery_delay)) if v is not None}
    if delivery:
        changes["delivery"] = replace(config.delivery, **delivery)
    return replace(config, **changes)


def run(args: argparse.Namespace) -> int:
    from bulksend.config import is_loopback_url
    from bulksend.sandbox import serve

    config = sandbox_config(args)
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    if not is_loopback_url(f"http://{host}"):
        print(f"bulksend: warning: the sandbox is binding {host}, reachable from other machines",
              file=sys.stderr)

    def ready(url: str) -> None:
        print(f"sandbox listening on {url} (plans: {', '.join(config.plans) or 'any'}); "
              f"stats at {url}/_sandbox/stats", flush=True)

    try:
        run_loop(serve(config, port, host, ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"bulksend: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
