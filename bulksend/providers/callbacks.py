"""What providers say about delivery, as values: the words every provider's
callback and status parsers (in its own module) turn their bodies into.

No I/O. ``DeliveryStatus`` is the one vocabulary every provider's statuses
map onto (each provider module holds its own map); a ``Ref`` is how a report
names its message; ``Parsed`` is what one callback body carried;
``PolledStatus`` is one recipient's line in a polled status answer.
Anything a parser cannot read raises ``Malformed``.
"""

from __future__ import annotations

import enum
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


def number(value: Any) -> str:
    """An MSISDN as bulksend stores it: digits, no ``+`` or ``00``."""
    text = str(value or "").strip().replace(" ", "")
    text = text[1:] if text.startswith("+") else text
    return text[2:] if text.startswith("00") else text


def timestamp(value: Any) -> float | None:
    """Epoch seconds from ISO-8601 (UTC if no offset), ``YYYY-MM-DD HH:MM:SS`` or a unix number."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


#: (body, content type, query fields) -> what the callback carried
CallbackParser = Callable[[bytes, str, Mapping[str, str]], Parsed]
