"""``bulksend resume``: go on with a journaled campaign where it stopped."""

from __future__ import annotations

import argparse
from typing import Any

from bulksend.cli.common import add_config, run_loop
from bulksend.cli.runs import (add_force, add_journal, add_run_options, note, print_outcome, progress, settings_for,
                               stop_timeout)


def register(sub: Any) -> None:
    from bulksend.cli.worker import add_broker

    p: argparse.ArgumentParser = sub.add_parser(
        "resume", help="go on with a campaign where it stopped",
        description="Go on with a journaled campaign: batches left in flight are reconciled with the "
                    "provider first, accepted recipients are never sent again, the rest are sent.")
    p.add_argument("campaign", help="the campaign's name")
    add_config(p)
    add_journal(p)
    p.add_argument("--plan", help="send through this plan instead (same provider and account)")
    p.add_argument("--resend-unknown", action="store_true",
                   help="send again recipients whose fate the provider cannot tell (may duplicate)")
    p.add_argument("--retry-failed", action="store_true",
                   help="send again recipients that failed (e.g. after fixing what made them fail)")
    p.add_argument("--recipients", "-r", metavar="FILE",
                   help="the list again, if it was not fully read into the journal and has moved")
    p.add_argument("--results", metavar="FILE", help="write this run's msisdn,status,batch_id,code,attempts rows")
    add_run_options(p)
    add_force(p)
    add_broker(p)
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.metrics import announce_to_stderr, serving

    with serving(args.metrics_port, announce=announce_to_stderr):
        return _resume(args)


def _resume(args: argparse.Namespace) -> int:
    from bulksend.api import as_config
    from bulksend.campaigns import RunOptions, resume_campaign

    config = as_config(args.config)
    settings = settings_for(args, config)
    options = RunOptions(allow_changes=args.allow_changes, resend_unknown=args.resend_unknown,
                         retry_failed=args.retry_failed, stop_timeout=stop_timeout(args, settings),
                         results_path=args.results, recipients=args.recipients, force=args.force)
    if args.broker or args.detach:
        from bulksend.cli.worker import broker_resume

        return broker_resume(args, config, options, progress)
    result = run_loop(resume_campaign(
        config, args.campaign, settings, options=options, plan=args.plan, handle_signals=True,
        on_start=None if args.no_progress else progress, on_event=note(args.no_progress and args.json)))
    print_outcome(result, args.json, args, "resume")
    return result.exit_code
