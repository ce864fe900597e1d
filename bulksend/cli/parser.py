"""The argument parser every bulksend command uses: argparse, plus "did you
mean" for mistyped commands, choices and options, the logging options, and
``rich-argparse`` colours when help goes to a terminal (never with NO_COLOR).

Light on purpose: ``bulksend --help`` imports this and little else.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from typing import Any, NoReturn

_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")
_UNRECOGNIZED = "unrecognized arguments: "


class BulksendParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors suggest the nearest valid word."""

    def subparsers(self) -> dict[str, argparse.ArgumentParser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    def choices_parser(self, name: str) -> argparse.ArgumentParser:
        return self.subparsers().get(name, self)

    def option_strings(self) -> list[str]:
        """Every option this parser takes, and those of the subcommand being parsed."""
        found = [s for a in self._actions for s in a.option_strings]
        for name, sub in self.subparsers().items():
            if getattr(self, "_bulksend_command", None) == name:
                found += [s for a in sub._actions for s in a.option_strings]
        return found

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        words = [a for a in (args if args is not None else sys.argv[1:]) if not str(a).startswith("-")]
        self._bulksend_command = next((w for w in words if w in self.subparsers()), None)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(message + suggestion(message, self.option_strings()))


def suggestion(message: str, options: list[str]) -> str:
    """`` (did you mean 'send'?)`` for the first mistyped word of an argparse error, or ''."""
    m = _CHOICE.search(message)
    if m:
        choices = re.findall(r"'([^']*)'", m.group(2))
        close = difflib.get_close_matches(m.group(1), choices, n=1)
    elif _UNRECOGNIZED in message:
        words = message.split(_UNRECOGNIZED, 1)[1].split()
        close = []
        for word in (w.split("=", 1)[0] for w in words if w.startswith("-")):
            close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
            if close:
                break
    else:
        return ""
    return f" (did you mean '{close[0]}'?)" if close else ""


def add_logging_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """``-v``/``-q``/``--log-level``/``--log-format``, before or after the command.

    On a subcommand they default to SUPPRESS, so ``bulksend -v send`` is not
    undone by the subcommand's own (absent) ``-v``.
    """
    from bulksend.cli.logs import FORMATS, LEVELS

    group = parser.add_argument_group("logging (to stderr)")
    extra: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    group.add_argument("-v", "--verbose", action="count", help="more log lines (-v info, -vv debug)",
                       **({"default": 0} if top else extra))
    group.add_argument("-q", "--quiet", action="count", help="fewer log lines (-q errors only)",
                       **({"default": 0} if top else extra))
    group.add_argument("--log-level", choices=LEVELS, metavar="LEVEL", **extra,
                       help=f"log at this level and above ({', '.join(LEVELS)}; default warning)")
    group.add_argument("--log-format", choices=FORMATS, **({"default": "text"} if top else extra),
                       help="log lines as text or one JSON object a line (default text)")


def use_rich_help(parser: BulksendParser) -> None:
    """Coloured help with rich-argparse, only when it goes to a terminal and NO_COLOR is unset."""
    if not sys.stdout.isatty() or "NO_COLOR" in os.environ:
        return
    try:
        import rich_argparse
    except ImportError:  # pragma: no cover - a dependency; plain help still works
        return
    for p in [parser, *parser.subparsers().values()]:
        raw = p.formatter_class is argparse.RawDescriptionHelpFormatter
        p.formatter_class = (rich_argparse.RawDescriptionRichHelpFormatter if raw
                             else rich_argparse.RichHelpFormatter)
