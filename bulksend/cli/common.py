"""What several subcommands share: config loading, output, the async run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import orjson

from bulksend.errors import InputError

if TYPE_CHECKING:  # types only: parsing the arguments must not import the engine
    from bulksend.engine import CampaignSummary

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``bulksend.runtime.run``, imported when a command runs (asyncio is not needed to parse)."""
    from bulksend.runtime import run

    return run(main)


#: how --config is found when it is not given (bulksend.cli.find_config does it)
CONFIG_DISCOVERY = "default: $BULKSEND_CONFIG, else ./bulksend.toml"


def port(text: str) -> int:
    """An argparse type for a TCP port, 0 to 65535 (0: any free one); anything else is a usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 to 65535)")
    return value


def add_config(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--config``; when absent it is looked for (``find_config``), and a
    command that needs one stops with exit 2 when none is found."""
    parser.add_argument("--config", "-c", metavar="FILE",
                        help=f"TOML config with the [plans.NAME] tables ({CONFIG_DISCOVERY})")
    parser.set_defaults(config_required=required)


def key_values(pairs: list[str] | None, flag: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs from repeated options; a bad one is an input error."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def read_message(args: argparse.Namespace) -> str:
    """The body from ``--message`` or ``--message-file``; it is never logged (``logs.redact``)."""
    from bulksend.cli.logs import redact

    if args.message is not None:
        redact(str(args.message))
        return str(args.message)
    if args.message_file:
        try:
            with open(args.message_file, encoding="utf-8") as f:
                body = f.read().removesuffix("\n")
                redact(body)
                return body
        except OSError as exc:
            raise InputError(f"{args.message_file}: cannot read message: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{args.message_file}: not valid UTF-8 at byte {exc.start}") from None
    raise InputError("give the message with --message TEXT or --message-file FILE")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def print_summary(summary: CampaignSummary, stream: TextIO | None = None) -> None:
    # imported here: the text needs the journal's records, which most commands never load
    from bulksend.cli.render import summary_text

    (stream or sys.stdout).write(summary_text(summary))
