"""What providers say about delivery, as values: the words every provider's
callback and status parsers (in its own module) turn their bodies into.

No I/O. ``DeliveryStatus`` is the one vocabulary every provider's statuses
map onto (each provider module holds its own map); a ``Ref`` is how a report
names its message; ``Parsed`` is what one callback body carried;
``PolledStatus`` is one recipient's line in a polled status answer.
Anything a parser cannot read raises ``Malformed``. Bodies are hostile until
parsed: the helpers below (``text``, ``body_text``, ``number``,
``timestamp``) turn wrong types, huge numbers and overlong fields into
``Malformed`` (or "no time given"), never another exception, and a
``Malformed`` message never quotes a number or a message text (``shown``).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from bulksend.models import HttpRequest


class DeliveryStatus(str, enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"
    ABORTED = "aborted"
    PENDING = "pending"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.EXPIRED,
                   DeliveryStatus.REJECTED, DeliveryStatus.ABORTED})


class Malformed(ValueError):
    """The body is not a callback (or status answer) we understand."""


@dataclass(frozen=True, slots=True)
class Ref:
    """How a report names its message."""

    provider_id: str = ""
    msisdn: str = ""
    client_reference: str = ""


@dataclass(frozen=True, slots=True)
class StatusEvent:
    ref: Ref
    status: DeliveryStatus
    provider_status: str
    code: str
    at: float | None


@dataclass(frozen=True, slots=True)
class InboundEvent:
    sender: str
    recipient: str
    body: str
    at: float | None
    message_id: str = ""
    #: URLs of the media of an MMS (XMS ``mo_media``)
    media: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one callback carried."""

    kind: str
    statuses: tuple[StatusEvent, ...] = ()
    inbound: tuple[InboundEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusPoll:
    """One request that asks for the delivery status of some sent messages.

    ``provider_id`` is the id the answer is about (an XMS batch, a Classic
    message) and ``msisdns`` the numbers asked about; ``parse_poll`` reads
    the answer into ``PolledStatus`` lines for those numbers.
    """

    request: HttpRequest
    provider_id: str
    msisdns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PolledStatus:
    """One recipient's status in a polled answer (no time: providers do not say one)."""

    provider_id: str
    msisdn: str
    status: DeliveryStatus
    provider_status: str
    code: str = ""


def load_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Malformed("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Malformed("the body is not a JSON object")
    return data


#: the longest MSISDN, id or status word a callback may carry
MAX_FIELD = 128
#: latest time a callback may name (year 9999); later, or not finite, is "no time given"
MAX_EPOCH = 253402300799.0
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def shown(value: Any) -> str:
    """A type or event name fit for an error message: quoted if it is a plain word, else ``?``."""
    return repr(value) if isinstance(value, str) and _NAME.fullmatch(value) else "?"


def text(value: Any, what: str, *, required: bool = True) -> str:
    """A short string field (ids, numbers, statuses); a number is taken as its digits."""
    if value is None or value == "":
        if required:
            raise Malformed(f"{what} is missing")
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise Malformed(f"{what} must be a string of at most {MAX_FIELD} characters")
    return value


def body_text(value: Any) -> str:
    """A message text: a string, or nothing."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed("the message body must be a string")
    return value


def number(value: Any, what: str = "a number", *, required: bool = True) -> str:
    """An MSISDN as bulksend stores it: digits, no ``+`` or ``00``."""
    raw = text(value, what, required=required).strip().replace(" ", "")
    raw = raw[1:] if raw.startswith("+") else raw
    return raw[2:] if raw.startswith("00") else raw


def timestamp(value: Any) -> float | None:
    """Epoch seconds from ISO-8601 (UTC if no offset), ``YYYY-MM-DD HH:MM:SS`` or a unix number.

    Anything else, or a time outside year 1970..9999, is None (no time given).
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        when = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str) and len(value) <= 64:
        when = _parse_time(value.strip())
    else:
        return None
    return when if 0.0 <= when <= MAX_EPOCH else None


def _parse_time(raw: str) -> float:
    if raw.isascii() and raw.isdigit():
        return float(raw) if len(raw) <= 12 else math.inf
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        return math.nan


def status_lookup(table: Mapping[str, DeliveryStatus]) -> Callable[[str], DeliveryStatus]:
    """A provider's status word -> ``DeliveryStatus``, in any case ("DELIVERED", "delivered" alike);
    a word the table does not know is ``UNKNOWN``."""
    by_name = {name.lower(): status for name, status in table.items()}

    def lookup(value: str) -> DeliveryStatus:
        return by_name.get(value.strip().lower(), DeliveryStatus.UNKNOWN)

    return lookup


#: (body, content type, query fields) -> what the callback carried
CallbackParser = Callable[[bytes, str, Mapping[str, str]], Parsed]
