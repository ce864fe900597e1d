"""``bulksend resume``: go on with a journaled campaign where it stopped.

Also home of what the journal commands share: the ``--journal`` option and
how a journaled run's ending is printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bulksend.api import as_config
from bulksend.cli.common import add_config, print_json, print_summary
from bulksend.config import Config
from bulksend.providers import load_config
from bulksend.campaigns import JournalSettings, JournalSummary, RunOptions, journal_settings, resume_campaign
from bulksend.runtime import run as run_loop


def add_journal(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", metavar="PATH",
                   help="the journal file (default: $BULKSEND_JOURNAL, the config's [journal] path, "
                        "else .bulksend/journal.db)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-changes", action="store_true",
                   help="go on although the provider, account or message differs from what the campaign "
                        "was started with")
    p.add_argument("--stop-timeout", type=float, metavar="SECONDS",
                   help="on Ctrl-C/SIGTERM, wait this long for batches in flight (default 30; a second "
                        "Ctrl-C stops waiting)")


def settings_for(args: argparse.Namespace, config: Config | None) -> JournalSettings:
    return journal_settings(config, getattr(args, "journal", None))


def optional_config(args: argparse.Namespace) -> Config | None:
    return load_config(args.config) if getattr(args, "config", None) else None


def stop_timeout(args: argparse.Namespace, settings: JournalSettings) -> float:
    value = getattr(args, "stop_timeout", None)
    return settings.stop_timeout if value is None else max(0.0, float(value))


def print_outcome(result: JournalSummary, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    if result.summary is not None:
        print_summary(result.summary)
    n = result.counts
    line = (f"journal {result.journal}: campaign {result.campaign} {result.state}"
            + (f" ({result.reason})" if result.reason else "")
            + f"; accepted {n.accepted:,} of {n.total:,}, failed {n.failed:,}, unknown {n.unknown:,}, "
              f"pending {n.pending:,}")
    if n.in_flight:
        line += f", in flight {n.in_flight:,}"
    print(line)
    if result.state in ("paused", "scheduled"):
        print(f"go on with: bulksend resume {result.campaign} --config FILE")
    elif n.unknown:
        print(f"{n.unknown:,} recipients may or may not have been sent (the provider cannot be asked); "
              f"'bulksend resume {result.campaign} --resend-unknown' sends them again")


def note(quiet: bool) -> Any:
    # On a terminal the progress line is cleared first; it is drawn again on its next tick.
    clear = "\r\x1b[K" if sys.stderr.isatty() else ""

    def emit(text: str) -> None:
        if not quiet:
            print(f"{clear}bulksend: {text}", file=sys.stderr, flush=True)
    return emit


def register(sub: Any) -> None:
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
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bulksend.cli.send import _progress

    config = as_config(args.config)
    settings = settings_for(args, config)
    options = RunOptions(allow_changes=args.allow_changes, resend_unknown=args.resend_unknown,
                         retry_failed=args.retry_failed, stop_timeout=stop_timeout(args, settings),
                         results_path=args.results, recipients=args.recipients)
    result = run_loop(resume_campaign(
        config, args.campaign, settings, options=options, plan=args.plan, handle_signals=True,
        on_start=None if args.no_progress else _progress, on_event=note(args.no_progress and args.json)))
    print_outcome(result, args.json)
    return result.exit_code
