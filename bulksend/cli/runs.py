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
from typing import TYPE_CHECKING, Any

from bulksend.cli.common import print_json
from bulksend.cli.render import outcome_text

if TYPE_CHECKING:  # the campaign code and the engine are imported when a command runs, not to parse
    from bulksend.campaigns import JournalSettings, JournalSummary
    import asyncio

    from bulksend.config import Config
    from bulksend.engine import CampaignRun


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
    from bulksend.campaigns import journal_settings

    return journal_settings(config, getattr(args, "journal", None))


def optional_config(args: argparse.Namespace) -> Config | None:
    from bulksend.providers import load_config

    return load_config(args.config) if getattr(args, "config", None) else None


def stop_timeout(args: argparse.Namespace, settings: JournalSettings) -> float:
    value = getattr(args, "stop_timeout", None)
    return settings.stop_timeout if value is None else max(0.0, float(value))


def print_outcome(result: JournalSummary, as_json: bool, command: str = "send") -> None:
    if as_json:
        from bulksend.cli.json_out import journaled

        print_json(journaled(command, result))
    else:
        sys.stdout.write(outcome_text(result))


def note(quiet: bool) -> Callable[[str], None]:
    """Where a run's events go: stderr, as ``bulksend: ...`` lines (nowhere when ``quiet``)."""
    # On a terminal the progress line is cleared first; it is drawn again on its next tick.
    clear = "\r\x1b[K" if sys.stderr.isatty() else ""

    def emit(text: str) -> None:
        if not quiet:
            print(f"{clear}bulksend: {text}", file=sys.stderr, flush=True)
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
