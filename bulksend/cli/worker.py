"""``bulksend worker``: send batches of any campaign for these plans, taken from Redis."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bulksend.cli.common import add_config, port

# The engine, aiohttp and redis are imported in the functions that run: ``worker --help``
# and the --broker options of ``send``/``resume`` cost no start-up time.


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "worker", help="send campaigns' batches taken from Redis (scale-out)",
        description="A long-running worker: takes batches of any campaign for its plans from Redis and "
                    "sends them, sharing each plan's rate and order with every other worker. SIGTERM "
                    "drains: no new batches; held ones finish or are handed back.")
    add_config(p)
    p.add_argument("--broker", required=True, metavar="URL", help="redis://HOST:PORT/DB")
    p.add_argument("--plans", metavar="A,B", help="the plans to work (default: every plan of the config)")
    p.add_argument("--metrics-port", type=port, metavar="N", help="serve Prometheus metrics on 127.0.0.1:N")
    p.add_argument("--lease", type=float, default=10.0, metavar="SECONDS",
                   help="a batch held this long without a renewal is taken over by another worker (default 10)")
    p.add_argument("--max-deliveries", type=int, default=5, metavar="N",
                   help="a batch delivered more often goes to the dead-letter stream, reported unknown")
    p.add_argument("--drain", type=float, default=30.0, metavar="SECONDS",
                   help="on SIGTERM, seconds held batches get to finish (default 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from bulksend.api import as_config
    from bulksend.metrics import announce_to_stderr
    from bulksend.runtime import run as run_loop
    from bulksend.scaleout.worker import WorkerOptions, run_worker

    config = as_config(args.config)
    plans = [p.strip() for p in args.plans.split(",") if p.strip()] if args.plans else None
    options = WorkerOptions(lease=args.lease, max_deliveries=args.max_deliveries, drain=args.drain)

    async def main() -> int:
        stop, ready = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        work = asyncio.create_task(run_worker(config, args.broker, plans, options, stop=stop,
                                              metrics_port=args.metrics_port, ready=ready,
                                              announce=announce_to_stderr))
        await asyncio.wait([work, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            print(f"bulksend worker {options.consumer} ready", file=sys.stderr, flush=True)
        stats = await work
        print(f"bulksend worker: stopped; {stats.finished} batches finished, {stats.reclaimed} taken over, "
              f"{stats.handed_back} handed back", file=sys.stderr, flush=True)
        return 0

    code: int = _reporting_redis_errors(args.broker, lambda: run_loop(main()))
    return code


# -- the hooks of ``send --broker`` and ``resume --broker`` ----------------------------
def add_broker(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL",
                   help="send through 'bulksend worker' processes via Redis (redis://HOST:PORT/DB); "
                        "the journal stays here")
    p.add_argument("--detach", action="store_true",
                   help="with --broker: return once every batch is handed to the workers; "
                        "'bulksend resume NAME --broker URL' collects the outcomes")


def broker_run(args: argparse.Namespace, config: Any, spec: Any, on_start: Any) -> int:
    """``send --broker``: the campaign journaled here, sent by the workers."""
    from bulksend.campaigns import RunOptions
    from bulksend.cli.runs import note, print_outcome, settings_for, stop_timeout
    from bulksend.errors import InputError
    from bulksend.runtime import run as run_loop
    from bulksend.scaleout.campaign import send_via_broker

    _need_broker(args)
    if getattr(args, "no_journal", False):
        raise InputError("--broker needs the journal (the submitter keeps it); drop --no-journal")
    settings = settings_for(args, config)
    options = RunOptions(allow_changes=args.allow_changes, resend_unknown=args.resend_unknown,
                         stop_timeout=stop_timeout(args, settings), results_path=spec.results_path,
                         force=args.force)
    result = _reporting_redis_errors(args.broker, lambda: run_loop(send_via_broker(
        config, spec, settings, args.broker, options=options, handle_signals=True, fresh=args.campaign is None,
        detach=args.detach, on_start=None if args.no_progress else on_start,
        on_event=note(args.no_progress and args.json))))
    if isinstance(result, int):
        return result
    print_outcome(result, args.json, args)
    code: int = result.exit_code
    return code


def broker_resume(args: argparse.Namespace, config: Any, options: Any, on_start: Any) -> int:
    """``resume --broker``: batches the workers hold are waited for, not sent again."""
    from bulksend.cli.runs import note, print_outcome, settings_for
    from bulksend.runtime import run as run_loop
    from bulksend.scaleout.campaign import resume_via_broker

    _need_broker(args)
    result = _reporting_redis_errors(args.broker, lambda: run_loop(resume_via_broker(
        config, args.campaign, settings_for(args, config), args.broker, options=options, plan=args.plan,
        handle_signals=True, detach=args.detach, on_start=None if args.no_progress else on_start,
        on_event=note(args.no_progress and args.json))))
    if isinstance(result, int):
        return result
    print_outcome(result, args.json, args, "resume")
    code: int = result.exit_code
    return code


def _need_broker(args: argparse.Namespace) -> None:
    from bulksend.errors import InputError

    if not args.broker:
        raise InputError("--detach needs --broker (a local send cannot go on without this process)")


def _reporting_redis_errors(url: str, call: Any) -> Any:
    """``call()``, or exit 1 with one line when Redis cannot be reached (the journal keeps the campaign)."""
    from redis.exceptions import RedisError

    try:
        return call()
    except RedisError as exc:
        print(f"bulksend: Redis at {url.split('@')[-1]}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
