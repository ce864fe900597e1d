"""``bulksend count``: how many SMS segments a text costs, and why.

Thin on purpose: it reads the text, then calls the same functions a Python
user would (``bulksend.core.segments``) and prints what they return.
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson

from bulksend.core.segment_report import info_to_dict, render_breakdown, render_smart, smart_to_dict
from bulksend.core.segments import count_segments
from bulksend.core.smart_encoding import smart_encode

_DESCRIPTION = """\
Count the SMS segments a message costs: encoding (GSM-7 or UCS-2), units,
segments, room left in the last one, the characters that forced UCS-2, and
where each segment ends.

Where the text comes from:
  TEXT            counted exactly as given
  --file PATH     counted exactly as the file holds it, trailing newline
                  included (a newline is a character and costs a septet)
  --file - / no TEXT and no --file
                  read from stdin; one trailing "\\n" is dropped, since that
                  is what echo and most editors add
"""


class _BadInput(Exception):
    """Input we cannot count; the message is the one line the user sees."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``count`` subcommand to the bulksend CLI."""
    parser = subparsers.add_parser(
        "count",
        help="count the SMS segments a message costs",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("text", nargs="?", metavar="TEXT", help="the message")
    source.add_argument(
        "-f", "--file", metavar="PATH", help="read the message from PATH, as is ('-' for stdin)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    parser.add_argument(
        "--smart",
        action="store_true",
        help="replace Unicode look-alikes (curly quotes, dashes, NBSP...) when that "
        "makes the message GSM-7, and show what changed and the segments saved",
    )
    parser.add_argument(
        "--no-color", action="store_true", help="no ANSI colors (default: color only on a terminal)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Count and print; 0 on success, 2 when the input cannot be read."""
    try:
        text = _read_text(args.text, args.file)
    except _BadInput as exc:
        print(f"bulksend count: error: {exc}", file=sys.stderr)
        return 2
    smart = smart_encode(text) if args.smart else None
    info = smart.after if smart else count_segments(text)
    if args.json:
        document = info_to_dict(info)
        if smart:
            document["smart"] = smart_to_dict(smart)
        sys.stdout.write(orjson.dumps(document).decode() + "\n")
        return 0
    color = _use_color(args.no_color)
    if smart:
        sys.stdout.write(render_smart(smart, color=color) + "\n")
    sys.stdout.write(render_breakdown(info, color=color))
    return 0


def _read_text(text: str | None, path: str | None) -> str:
    if text is not None:
        return _check_argument(text)
    if path is None or path == "-":
        if sys.stdin.isatty():
            print("bulksend count: reading the message from stdin (end it with Ctrl-D)", file=sys.stderr)
        data = _decode(sys.stdin.buffer.read(), "<stdin>")
        return data[:-1] if data.endswith("\n") else data
    try:
        with open(path, "rb") as file:
            return _decode(file.read(), path)
    except OSError as exc:
        raise _BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadInput(f"{name}: invalid UTF-8 at byte offset {exc.start}") from None


def _check_argument(text: str) -> str:
    """Python hands over argv bytes that are not UTF-8 as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = os.fsencode(text)
        except UnicodeEncodeError:
            raw = b""  # surrogates that did not come from argv bytes
        _decode(raw, "TEXT argument")  # raises, naming the byte offset
        raise _BadInput("TEXT argument: not valid Unicode") from None
    return text


def _use_color(disabled: bool) -> bool:
    # NO_COLOR: the no-color.org convention.
    return not disabled and "NO_COLOR" not in os.environ and sys.stdout.isatty()
