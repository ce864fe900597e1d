"""``bulksend loadtest``: how much can a service plan really take?

Thin: it builds a ``LoadSpec`` from the arguments and calls
``bulksend.loadtest.run_loadtest`` or ``find_max``, then prints the table,
the JSON and/or writes the HTML report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulksend.cli import json_out
from bulksend.cli.common import add_config, port, print_json, run_loop
from bulksend.config import finite_positive
from bulksend.errors import InputError
from bulksend.models import Message

if TYPE_CHECKING:  # the load generator is imported when it runs (``loadtest --help`` stays fast)
    from bulksend.loadtest import FindMaxResult, FindMaxStep, LoadSpec, LoadTestResult
    from bulksend.loadtest.live import LiveView

_DESCRIPTION = """\
Load-test a service plan with an open-loop schedule: every batch has an
intended send time and is sent then, whatever earlier answers are doing;
latency is measured from that intended time, so a slow plan cannot hide.
Rates are recipients per second (requests/s = rate / --batch-size).

Generated recipients are only sent to a loopback (sandbox) plan; against a
real provider give --recipients with your own test numbers, and remember
every message sent is a real, billed SMS.

examples:
  bulksend loadtest -c configs/sandbox.toml --plan demo --rate 1000 --duration 10
  bulksend loadtest -c configs/sandbox.toml --plan demo --ramp 200:4000 --duration 30 \\
      --report ramp.html
  bulksend loadtest -c configs/sandbox.toml --plan alerts --rate 800 --delivery
  bulksend loadtest -c configs/sandbox.toml --plan demo --find-max --rate 500 \\
      --duration 3 --max-p99-ms 200 --workers 2
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "loadtest", help="load-test a service plan (open-loop, latency percentiles, --find-max)",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config(p)
    p.add_argument("--plan", required=True, help="the [plans.NAME] to load")
    p.add_argument("--rate", type=finite_positive, help="recipients/s (the starting rate with --find-max)")
    p.add_argument("--ramp", metavar="FROM:TO", help="rise (or fall) linearly from FROM to TO recipients/s")
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of sending (per step with --find-max; default 10)")
    p.add_argument("--batch-size", type=int, default=1, help="recipients per request (default 1)")
    p.add_argument("--message", "-m", default="bulksend load test", help="the message body")
    p.add_argument("--recipients", "-r", metavar="FILE",
                   help="numbers to send to, reused round-robin (default: generated; sandbox only)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes sharing the rate, each with its own event loop (default 1)")
    p.add_argument("--max-in-flight", type=int, default=512,
                   help="requests out at once per worker; a send due beyond it is dropped (default 512)")
    p.add_argument("--retries", type=int, default=0,
                   help="resend a batch answered 429/5xx up to N times, counted (default 0)")
    p.add_argument("--timeout", type=float, help="seconds per request (default: the plan's)")
    p.add_argument("--late-ms", type=float, default=5.0,
                   help="a send later than this after its intended time counts as late (default 5)")
    p.add_argument("--delivery", action="store_true",
                   help="ask for per-recipient delivery reports and measure delivery (sandbox only)")
    p.add_argument("--drain-timeout", type=float, default=10.0,
                   help="seconds to wait for outstanding delivery reports after sending (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--no-progress", action="store_true",
                   help="no live lines (by default each second's rate, p50/p99, 429s, late and dropped "
                        "sends go to stderr as it runs; with --workers 1)")
    p.add_argument("--report", metavar="FILE.html", help="write an HTML report with plots")
    p.add_argument("--histogram-log", metavar="FILE",
                   help="write the latency histograms in HdrHistogram's log format (one interval a "
                        "second; values in microseconds), for HistogramLogAnalyzer and friends")
    p.add_argument("--metrics-port", type=port, metavar="PORT",
                   help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics while it runs "
                        "(0: any free port; one worker's figures live, several workers' at the end)")
    p.add_argument("--force", action="store_true", help="overwrite the --report file if it exists")
    g = p.add_argument_group("--find-max", "search for the highest rate that stays within bounds")
    g.add_argument("--find-max", action="store_true", help="search instead of one run")
    g.add_argument("--max-429", type=float, default=0.01, metavar="FRACTION",
                   help="largest share of requests answered 429 (default 0.01)")
    g.add_argument("--max-errors", type=float, default=0.01, metavar="FRACTION",
                   help="largest share of requests failed otherwise (default 0.01)")
    g.add_argument("--max-p99-ms", type=float,
                   help="largest p99 latency from intended time (also marks saturation in one run)")
    g.add_argument("--max-delivery-p99-ms", type=float,
                   help="largest p99 acceptance-to-delivery latency, with --delivery (ditto)")
    g.add_argument("--min-achieved", type=float, default=0.99,
                   help="smallest achieved/target rate (default 0.99)")
    g.add_argument("--factor", type=float, default=2.0, help="rate multiplier while rising (default 2)")
    g.add_argument("--precision", type=float, default=0.05,
                   help="stop when pass and fail are this close, relatively (default 0.05)")
    g.add_argument("--max-steps", type=int, default=12, help="most steps to run (default 12)")
    g.add_argument("--max-rate", type=float, help="never try above this rate")
    g.add_argument("--pause", type=float, default=0.5, help="seconds between steps (default 0.5)")
    p.set_defaults(func=run)


def build_spec(args: argparse.Namespace) -> LoadSpec:
    from bulksend.api import as_config
    from bulksend.loadtest import LoadSpec, rate_profile, read_numbers
    from bulksend.outputs import check_outputs

    plan = as_config(args.config).plan(args.plan)
    if args.report and not args.report.lower().endswith((".html", ".htm")):
        raise InputError(f"--report {args.report}: the report is an HTML file (name it .html)")
    check_outputs({"--report": args.report}, [args.config, args.recipients], force=args.force)
    if args.histogram_log and Path(args.histogram_log).exists():
        raise InputError(f"--histogram-log {args.histogram_log}: exists; give a new file")
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    if args.find_max and args.ramp:
        raise InputError("--find-max runs constant-rate steps: give --rate, not --ramp")
    return LoadSpec(
        plan=plan, profile=rate_profile(args.rate, args.ramp, args.duration),
        batch_size=args.batch_size, message=Message(args.message, sender=plan.sender),
        recipients=read_numbers(args.recipients) if args.recipients else (),
        max_in_flight=args.max_in_flight, retries=args.retries, timeout=args.timeout,
        delivery=args.delivery, drain_timeout=args.drain_timeout, late_bound=args.late_ms / 1000,
        campaign=f"loadtest-{datetime.now().strftime('%Y%m%d-%H%M%S')}",
    )


def run(args: argparse.Namespace) -> int:
    spec = build_spec(args)
    from bulksend.metrics import announce_to_stderr, serving

    with serving(args.metrics_port, announce=announce_to_stderr):
        if args.find_max:
            return _find_max(args, spec)
        return _one_run(args, spec)


def _one_run(args: argparse.Namespace, spec: LoadSpec) -> int:
    from bulksend.loadtest import StopSignal, format_result, render_result, run_loadtest

    async def one_run() -> LoadTestResult:
        stop = StopSignal()
        live = _live(args)
        try:
            with stop.handling():  # Ctrl-C stops sending and still reports what was measured
                return await run_loadtest(spec, workers=args.workers, max_latency_p99_ms=args.max_p99_ms,
                                          max_delivery_p99_ms=args.max_delivery_p99_ms, stop=stop,
                                          watch=live.watch if live else None)
        finally:
            if live:
                live.close()

    result = run_loop(one_run())
    if args.histogram_log and result.recorder is not None:
        from bulksend.loadtest.hlog import write_histogram_log

        write_histogram_log(args.histogram_log, [(0.0, result.recorder)], _title(result))
    _emit(args, json_out.loadtest_run(result), lambda: render_result(result), lambda: format_result(result))
    return _exit_code(result.stopped)


def _emit(args: argparse.Namespace, data: dict[str, Any], html: Callable[[], str],
          text: Callable[[], str]) -> None:
    """The HTML report if asked for, then JSON or the terminal table."""
    from bulksend.loadtest import write_report

    if args.report:
        write_report(args.report, html())
    if args.json:
        print_json(data)
    else:
        sys.stdout.write(text())
        if args.report:
            print(f"report: {args.report}")


def _live(args: argparse.Namespace) -> LiveView | None:
    """Live lines on stderr, unless asked for none (or with --json: nothing but the JSON)."""
    if args.no_progress or args.json:
        return None
    from bulksend.loadtest.live import LiveView

    return LiveView(sys.stderr, sys.stderr.isatty())


def _title(r: LoadTestResult) -> str:
    return (f"plan {r.plan}, {r.start_rate:g} to {r.end_rate:g} recipients/s for {r.duration:g} s, "
            f"{r.batch_size} per request")


def _exit_code(stopped: str) -> int:
    from bulksend.loadtest import INTERRUPTED

    if stopped == INTERRUPTED:
        return 130
    return 3 if stopped else 0


def _find_max(args: argparse.Namespace, spec: LoadSpec) -> int:
    from bulksend.loadtest import Bounds, SearchPolicy, StopSignal, find_max, format_find_max, render_find_max

    try:
        bounds = Bounds(max_rate_limited=args.max_429, max_errors=args.max_errors,
                        max_latency_p99_ms=args.max_p99_ms,
                        max_delivery_p99_ms=args.max_delivery_p99_ms,
                        max_lateness_p99_ms=args.late_ms, min_achieved=args.min_achieved)
        policy = SearchPolicy(start=spec.profile.start_rate, factor=args.factor,
                              precision=args.precision, max_steps=args.max_steps,
                              max_rate=args.max_rate or float("inf"))
    except ValueError as exc:
        raise InputError(f"--find-max: {exc}") from None

    def progress(step: FindMaxStep) -> None:
        if not args.json:
            verdict = "ok" if step.verdict.ok else "; ".join(step.verdict.reasons)
            print(f"  step {step.rate:,.1f}/s: achieved {step.result.achieved_rate:,.1f}/s, "
                  f"{step.result.rate_limited:,} 429s, p99 {step.result.latency.p99:,.2f} ms: {verdict}",
                  file=sys.stderr, flush=True)

    async def search() -> FindMaxResult:
        stop = StopSignal()
        live = _live(args)
        try:
            with stop.handling():
                return await find_max(spec, policy=policy, bounds=bounds, workers=args.workers,
                                      pause=args.pause, on_step=progress, stop=stop,
                                      watch=live.watch if live else None)
        finally:
            if live:
                live.close()

    found = run_loop(search())
    if args.histogram_log:
        _find_max_histograms(args.histogram_log, found, spec.plan.name)
    _emit(args, json_out.loadtest_find_max(found), lambda: render_find_max(found), lambda: format_find_max(found))
    if found.stopped:
        return _exit_code(found.stopped)
    return 0 if found.max_rate is not None else 1


def _find_max_histograms(path: str, found: FindMaxResult, plan: str) -> None:
    """Every step's histograms in one log, end to end, as the report lays them out."""
    from bulksend.loadtest.hlog import write_histogram_log
    from bulksend.loadtest.report import GAP

    runs, offset = [], 0.0
    for step in found.steps:
        if step.result.recorder is not None:
            runs.append((offset, step.result.recorder))
        offset += max(len(step.result.seconds), step.result.duration) + GAP
    write_histogram_log(path, runs, f"find-max on plan {plan}, {len(found.steps)} steps")
