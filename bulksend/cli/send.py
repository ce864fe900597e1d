"""``bulksend send``: one campaign from a recipient list."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bulksend.cli.common import add_config, key_values, print_json, print_summary, read_message, run_loop
from bulksend.cli.json_out import run_document
from bulksend.cli.runs import (add_force, add_journal, add_list_options, add_run_options, check_lists, note,
                               print_outcome, progress, settings_for, stop_timeout)
from bulksend.models import DeliveryReport

if TYPE_CHECKING:  # the engine is imported when the command runs (``send --help`` stays fast)
    from bulksend.config import Config
    from bulksend.engine import CampaignSpec


def register(sub: Any) -> None:
    from bulksend.cli.worker import add_broker

    p: argparse.ArgumentParser = sub.add_parser(
        "send", help="send a campaign", description="Send a campaign to a recipient list.")
    add_config(p)
    p.add_argument("--plan", required=True, help="the [plans.NAME] to send through")
    p.add_argument("--recipients", "-r", required=True, metavar="FILE",
                   help="text, CSV or JSONL list (.gz too); - for stdin")
    msg = p.add_mutually_exclusive_group()
    msg.add_argument("--message", "-m", help="the body; ${key} is filled from the list's columns")
    msg.add_argument("--message-file", metavar="FILE", help="read the body from a file")
    p.add_argument("--campaign", help="campaign name (default: list name + time)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="default value for ${KEY} (repeatable)")
    p.add_argument("--column", help="the CSV/JSONL column holding the number")
    p.add_argument("--format", choices=("text", "csv", "jsonl"), help="list format (default: by name)")
    add_list_options(p)
    p.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="numbers never to message, e.g. opt-outs (repeatable)")
    p.add_argument("--from", dest="sender", help="sender (overrides the plan's 'from')")
    p.add_argument("--delivery-report", choices=[d.value for d in DeliveryReport], default="none",
                   help="what delivery reports to ask the provider for (default none)")
    p.add_argument("--send-at", help="ISO-8601 time to deliver at (UTC when no offset)")
    p.add_argument("--expire-at", help="ISO-8601 time after which undelivered messages expire")
    p.add_argument("--callback-url", help="where the provider POSTs delivery reports")
    p.add_argument("--max-batch", type=int, help="recipients per request (default: the plan's)")
    p.add_argument("--results", metavar="FILE", help="write msisdn,status,batch_id,code,attempts rows")
    p.add_argument("--rejects", metavar="FILE", help="write invalid lines (default: beside --results)")
    p.add_argument("--resend-unknown", action="store_true",
                   help="resend batches whose fate the provider cannot tell (may duplicate)")
    p.add_argument("--smart-encoding", action="store_true",
                   help="replace look-alikes (curly quotes, dashes, odd spaces) in the message when "
                        "that makes it GSM-7; what changed is printed")
    p.add_argument("--dry-run", action="store_true",
                   help="count recipients, encoding and parts, estimate the duration; send nothing")
    add_journal(p)
    p.add_argument("--no-journal", action="store_true",
                   help="keep no journal (nothing survives a crash; the campaign cannot be resumed)")
    add_run_options(p)
    add_force(p)
    add_broker(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.api import as_config, build_spec, dry_run
    from bulksend.preflight import render_estimate

    config = as_config(args.config)
    plan = config.plan(args.plan)
    spec = build_spec(
        plan=args.plan, recipients=args.recipients, message=_message(args),
        campaign=args.campaign, sender=args.sender or plan.sender,
        params=key_values(args.param, "--param"), delivery_report=args.delivery_report,
        send_at=args.send_at, expire_at=args.expire_at, callback_url=args.callback_url,
        max_parts=plan.max_parts, column=args.column, fmt=args.format,
        exclude=tuple(args.exclude), max_batch=args.max_batch,
        results=args.results, rejects=args.rejects, resend_unknown=args.resend_unknown,
        delimiter=args.delimiter, default_region=args.default_region,
    )
    check_lists(spec, quiet=args.no_progress)
    if args.dry_run:
        est = dry_run(config, spec)
        print_json(run_document("send", campaign=spec.name, plan=args.plan, exit_code=0, estimate=est)) \
            if args.json else print(render_estimate(est, plan))
        return 0
    from bulksend.metrics import announce_to_stderr, serving

    with serving(args.metrics_port, announce=announce_to_stderr):
        return _send(args, config, spec)


def _send(args: argparse.Namespace, config: Config, spec: CampaignSpec) -> int:
    if args.broker or args.detach:
        from bulksend.cli.worker import broker_run

        return broker_run(args, config, spec, progress)
    if not args.no_journal:
        return _send_journaled(args, config, spec)
    from bulksend.api import send_campaign

    summary = run_loop(send_campaign(config, spec, handle_signals=True, delivery_db=settings_for(args, config).path,
                                     force=args.force,
                                     on_start=None if args.no_progress else progress))
    if args.json:
        print_json(run_document("send", campaign=summary.campaign, plan=summary.plan,
                                exit_code=summary.exit_code, summary=summary))
    else:
        print_summary(summary)
    if summary.recipients_read and summary.exit_code == 0 and not (summary.sent or summary.not_sent):
        print(f"bulksend: {args.recipients}: no sendable recipients (read {summary.recipients_read:,}: "
              f"invalid {summary.invalid:,}, duplicates {summary.duplicates:,}, excluded {summary.excluded:,}); "
              "nothing was sent", file=sys.stderr)
        return 2
    return summary.exit_code


def _send_journaled(args: argparse.Namespace, config: Config, spec: CampaignSpec) -> int:
    """The default: the campaign is journaled, so ``bulksend resume`` can go on with it."""
    from bulksend.campaigns import RunOptions, send_journaled

    settings = settings_for(args, config)
    options = RunOptions(allow_changes=args.allow_changes, resend_unknown=args.resend_unknown,
                         stop_timeout=stop_timeout(args, settings), results_path=spec.results_path,
                         force=args.force)
    result = run_loop(send_journaled(
        config, spec, settings, options=options, handle_signals=True, fresh=args.campaign is None,
        on_start=None if args.no_progress else progress, on_event=note(args.no_progress and args.json)))
    print_outcome(result, args.json, args)
    return result.exit_code


def _message(args: argparse.Namespace) -> str:
    from bulksend.core.smart_encoding import smart_encode

    body = read_message(args)
    if not args.smart_encoding:
        return body
    result = smart_encode(body)
    if result.replacements:
        changes = ", ".join(f"{old!r}->{new!r} x{n}" for old, new, n in result.replacements)
        print(f"smart encoding: {changes}; {result.before.encoding.value} {result.before.segments} "
              f"-> {result.after.encoding.value} {result.after.segments} parts", file=sys.stderr)
    return result.text

