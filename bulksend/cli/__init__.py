"""The ``bulksend`` command. Thin: it parses arguments, loads the config and
calls the same public API a Python user would call.

Each subcommand is a module here with ``register(subparsers)``; its parser
sets ``func`` to a function taking the parsed arguments and returning the
exit code.

Exit codes and the text a person reads are the command line's: the library
returns values, ``render`` turns them into text, and ``runs`` holds what
the commands that run or read a campaign share (options, progress, notes).

Start-up is kept short: ``bulksend --help`` imports no subcommand module (the
one-line summaries below stand in for them), and ``bulksend CMD ...`` imports
only ``CMD``'s module. What is shared by every command is set up here, once:
``--version``, logging (``-v``/``-q``/``--log-level``/``--log-format``), the
config file's discovery, suggestions for mistyped commands and options.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from bulksend import __version__
from bulksend.cli.parser import BulksendParser, add_logging_options, use_rich_help
from bulksend.errors import BulksendError, CampaignRefused, MachineFailure

#: subcommand modules and their one-line help, in the order ``--help`` lists them
#: (a test checks each line against the module's own ``register``)
COMMANDS: dict[str, str] = {
    "demo": "send a sample campaign to the built-in sandbox",
    "send": "send a campaign",
    "resume": "go on with a campaign where it stopped",
    "status": "list campaigns, or show one",
    "report": "write a campaign's per-recipient report",
    "cancel": "cancel a campaign",
    "sandbox": "run the local sandbox provider",
    "count": "count the SMS segments a message costs",
    "loadtest": "load-test a service plan (open-loop, latency percentiles, --find-max)",
    "listen": "receive delivery reports and inbound messages",
    "track": "poll delivery statuses of a campaign",
    "worker": "send campaigns' batches taken from Redis (scale-out)",
    "completion": "print a shell completion script (bash or zsh)",
}
#: where ``--config`` is looked for when it is not given, after $BULKSEND_CONFIG
DEFAULT_CONFIG = "bulksend.toml"
#: top-level options that take a value (so that value is not mistaken for the command)
_VALUED = ("--log-level", "--log-format")

log = logging.getLogger("bulksend.cli")


def build_parser(command: str | None = None, *, full: bool = False) -> BulksendParser:
    """The parser. Only ``command``'s module is imported (each pulls in its own
    dependencies, which costs start-up time); the others are one-line stubs.
    ``full`` imports every command's module (shell completion, tests)."""
    parser = BulksendParser(
        prog="bulksend",
        description="Send SMS campaigns at the provider's rate, exactly once.",
        epilog="'bulksend COMMAND --help' tells more about a command. A config file is found "
               "by --config, else $BULKSEND_CONFIG, else ./bulksend.toml.",
    )
    parser.add_argument("--version", action="version", version=f"bulksend {__version__}",
                        help="print the version and exit")
    add_logging_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=BulksendParser)
    for name, summary in COMMANDS.items():
        if full or name == command:
            importlib.import_module(f"bulksend.cli.{name}").register(sub)
            add_logging_options(sub.choices[name], top=False)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    use_rich_help(parser)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The first word that is neither an option nor a top-level option's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def find_config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> str | None:
    """``--config``, else ``$BULKSEND_CONFIG``, else ``./bulksend.toml`` when it exists, else None."""
    env = os.environ if environ is None else environ
    if getattr(args, "config", None):
        return str(args.config)
    if env.get("BULKSEND_CONFIG"):
        return env["BULKSEND_CONFIG"]
    return DEFAULT_CONFIG if os.path.isfile(DEFAULT_CONFIG) else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = command_of(argv)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    from bulksend.cli import logs

    handler = logs.configure(logs.level_of(args.verbose, args.quiet, args.log_level), args.log_format)
    try:
        return _run(parser, args)
    finally:
        logs.unconfigure(handler)


def _run(parser: BulksendParser, args: argparse.Namespace) -> int:
    if hasattr(args, "config"):
        args.config = find_config(args)
        if args.config is None and getattr(args, "config_required", False):
            parser.choices_parser(args.command).error(
                "no config: give --config FILE, set BULKSEND_CONFIG, or put a bulksend.toml here")
    log.debug("bulksend %s: command %s, config %s", __version__, args.command, getattr(args, "config", None))
    try:
        code: int = args.func(args)
        return code
    except CampaignRefused as exc:
        print(f"bulksend: {exc}", file=sys.stderr)
        return 3
    except MachineFailure as exc:
        print(f"bulksend: {exc}", file=sys.stderr)
        return 75
    except BulksendError as exc:
        print(f"bulksend: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bulksend: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
