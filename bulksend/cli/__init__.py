"""The ``bulksend`` command. Thin: it parses arguments, loads the config and
calls the same public API a Python user would call.

Each subcommand is a module here with ``register(subparsers)``; its parser
sets ``func`` to a function taking the parsed arguments and returning the
exit code.

Exit codes and the text a person reads are the command line's: the library
returns values, ``render`` turns them into text, and ``runs`` holds what
the commands that run or read a campaign share (options, progress, notes).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bulksend.errors import BulksendError, CampaignRefused, MachineFailure

#: subcommand modules, in the order ``--help`` lists them
COMMANDS = ("demo", "send", "resume", "status", "report", "cancel", "sandbox", "count", "loadtest",
            "listen", "track", "worker")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a known ``command``, only that subcommand's module is
    imported (each pulls in its own dependencies, which costs start-up time)."""
    parser = argparse.ArgumentParser(
        prog="bulksend",
        description="Send SMS campaigns at the provider's rate, exactly once.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"bulksend.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
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
