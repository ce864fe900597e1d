"""What several subcommands share: config loading, output, the async run."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import orjson

from bulksend.engine import CampaignSummary
from bulksend.errors import InputError


def add_config(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--config", "-c", required=required, metavar="FILE",
                        help="TOML config with the [plans.NAME] tables")


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
    if args.message is not None:
        return str(args.message)
    if args.message_file:
        try:
            with open(args.message_file, encoding="utf-8") as f:
                return f.read().removesuffix("\n")
        except OSError as exc:
            raise InputError(f"{args.message_file}: cannot read message: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{args.message_file}: not valid UTF-8 at byte {exc.start}") from None
    raise InputError("give the message with --message TEXT or --message-file FILE")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def print_summary(summary: CampaignSummary, stream: TextIO | None = None) -> None:
    s = summary
    lines = [
        f"campaign {s.campaign} on plan {s.plan}",
        f"  read       {s.recipients_read:>10,}",
        f"  invalid    {s.invalid:>10,}   duplicates {s.duplicates:,}   excluded {s.excluded:,}",
        f"  sent       {s.sent:>10,}   in {s.batches:,} batches, {s.requests:,} requests, {s.retries:,} retries",
        f"  failed     {s.failed:>10,}   unknown {s.unknown:,}   not sent {s.not_sent:,}",
        f"  elapsed    {s.elapsed_s:>10.2f}s  ({s.rate:,.0f} recipients/s)",
    ]
    if s.parts:
        per = s.parts["parts_per_recipient"]
        lines.append(f"  message    {s.parts['encoding']:>10}   {per['min']}-{per['max']} parts per recipient, "
                     f"{s.parts['total_parts']:,} parts in all")
    if s.stopped_reason:
        lines.append(f"  stopped: {s.stopped_reason}")
    if s.last_errors:
        label = "last errors" if s.failed or s.unknown else "recovered from (retried)"
        lines.append(f"  {label}:")
        lines.extend(f"    {err}" for err in s.last_errors[-3:])
    (stream or sys.stdout).write("\n".join(lines) + "\n")
