"""Callback bodies in, events out: no I/O, no verification (see ``verify``).

Each provider's parser lives in its own module (``providers.xms_reports``,
``providers.clickatell_reports``, ``providers.classic``) and is found through
the registry (``parse_callback``); the names below keep the old imports
working. Anything a parser cannot read raises ``Malformed`` (the receiver
answers 400). Bodies are hostile until parsed: wrong types, huge numbers,
deep nesting and bytes that are not UTF-8 are ``Malformed`` too, never
another exception (``providers.callbacks``: ``text``, ``body_text``,
``number``, ``timestamp``).
"""

from __future__ import annotations

from collections.abc import Mapping

from bulksend.providers.callbacks import (
    InboundEvent,
    Malformed,
    Parsed,
    StatusEvent,
    load_json,
    number,
    timestamp,
)
from bulksend.providers.classic import parse_callback as parse_classic
from bulksend.providers.clickatell_reports import parse_callback as parse_clickatell
from bulksend.providers.registry import PROVIDERS
from bulksend.providers.xms_reports import parse_callback as parse_xms

__all__ = ["InboundEvent", "Malformed", "Parsed", "StatusEvent", "load_json", "number", "parse_callback",
           "parse_classic", "parse_clickatell", "parse_xms", "timestamp"]


def parse_callback(provider: str, body: bytes, content_type: str, query: Mapping[str, str]) -> Parsed:
    """What a callback for a plan of ``provider`` carried."""
    return PROVIDERS[provider].parse_callback(body, content_type, query)
