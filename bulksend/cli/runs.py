"""What the commands that run or read a campaign share (``send``, ``resume``,
``demo``, ``status``, ``report``, ``cancel``): the ``--journal`` and run
options, the journal settings they resolve to, the progress line, event
notes on stderr, and how a journaled run's ending is printed.

Its own module so that ``send`` and ``resume`` need not import each other.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from bulksend.cli.common import port, print_json
from bulksend.cli.render import outcome_text

if TYPE_CHECKING:  # the campaign code and the engine are imported when a command runs, not to parse
    import asyncio

    from bulksend.campaigns import JournalSettings, JournalSummary
    from bulksend.config import Config
    from bulksend.engine import CampaignRun, CampaignSpec


def add_journal(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", metavar="PATH",
                   help="the journal file (default: $BULKSEND_JOURNAL, the config's [journal] path, "
                        "else .bulksend/journal.db)")


def add_list_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--delimiter", metavar="CHAR",
                   help="a CSV list's separator: , ; or tab (default: the one its header line holds most of)")
    p.add_argument("--default-region", metavar="CC",
                   help="the country (ISO code, e.g. DE) of numbers written nationally, like 030 1234567")


def check_lists(spec: CampaignSpec, quiet: bool = False) -> None:
    """Read the list (and exclude lists) to their end before anything is sent,
    showing how far on a terminal; ``InputError`` (exit 2) names file, line, reason."""
    if spec.recipients is None:
        return
    from bulksend.cli.progress import scan_progress
    from bulksend.lists.scan import scan_inputs

    tty = sys.stderr.isatty() and not quiet
    scan_inputs(spec.recipients, spec.exclude, scan_progress(sys.stderr, tty, spec.recipients.display))


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-changes", action="store_true",
                   help="go on although the provider, account or message differs from what the campaign "
                        "was started with")
    p.add_argument("--stop-timeout", type=float, metavar="SECONDS",
                   help="on Ctrl-C/SIGTERM, wait this long for batches in flight (default 30; a second "
                        "Ctrl-C stops waiting)")
    p.add_argument("--metrics-port", type=port, metavar="PORT",
                   help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics while it runs (0: any free port)")


def add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="overwrite output files that exist (never an input of the run: that is always refused)")


def settings_for(args: argparse.Namespace, config: Config | None) -> JournalSettings:
    from bulksend.campaigns import journal_settings

    return journal_settings(config, getattr(args, "journal", None))


def optional_config(args: argparse.Namespace) -> Config | None:
    from bulksend.providers import load_config

    return load_config(args.config) if getattr(args, "config", None) else None


def stop_timeout(args: argparse.Namespace, settings: JournalSettings) -> float:
    from bulksend.config import check_seconds

    value = getattr(args, "stop_timeout", None)
    check_seconds(value, "--stop-timeout")
    return settings.stop_timeout if value is None else float(value)


def print_outcome(result: JournalSummary, as_json: bool, args: argparse.Namespace | None = None,
                  command: str = "send") -> None:
    """``args``: the command's, so "go on with" names the config and journal it was given."""
    if as_json:
        from bulksend.cli.json_out import journaled

        print_json(journaled(command, result))
    else:
        sys.stdout.write(outcome_text(result, getattr(args, "config", None), getattr(args, "journal", None)))


def note(quiet: bool) -> Callable[[str], None]:
    """Where a run's events go: stderr, as ``bulksend: ...`` lines (nowhere when ``quiet``)."""
    # On a terminal the note goes above the progress line.
    def emit(text: str) -> None:
        if not quiet:
            from bulksend.cli.progress import note as above_progress

            above_progress(f"bulksend: {text}", sys.stderr)
    return emit


def progress(run: CampaignRun) -> None:
    """``on_start``: draw the run's progress on stderr until it is done."""
    import asyncio

    from bulksend.cli.progress import show_progress

    task = asyncio.ensure_future(show_progress(run, sys.stderr, sys.stderr.isatty()))
    run.stats  # the task ends when the run is done
    _KEEP.add(task)
    task.add_done_callback(_KEEP.discard)


_KEEP: set[asyncio.Future[None]] = set()
