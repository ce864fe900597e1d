"""Opt-out keywords in inbound messages (STOP and friends).

A message is an opt-out when, trimmed and case-folded, it is one of the
keywords, or starts with one followed by a space or punctuation ("Stop
please", "STOP."); "stopwatch" and "don't stop" are not.
"""

from __future__ import annotations

import re

KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
_PATTERN = re.compile(r"^\s*(" + "|".join(KEYWORDS) + r")(?:$|[\s.!,;:-])", re.IGNORECASE)


def opt_out_keyword(body: str) -> str:
    """The keyword (upper case) when ``body`` is an opt-out, else ``""``."""
    match = _PATTERN.match(body.strip())
    return match.group(1).upper() if match else ""
