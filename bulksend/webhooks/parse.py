"""Callback bodies in, events out: no I/O, no verification (see ``verify``).

What each provider POSTs (providers.md §1–3):

- Sinch XMS: ``recipient_delivery_report_sms`` (one recipient, per_recipient
  and per_recipient_final), ``delivery_report_sms`` (a batch: ``full`` lists
  the recipients of each status, ``summary`` only counts them, so it yields
  no per-recipient event), and ``mo_text``, ``mo_binary`` (Base64 body, kept
  as sent) and ``mo_media`` inbound messages (``body`` is an object:
  ``subject``, ``message`` and ``media: [{url, contentType, status, code}]``,
  as in Sinch's SDK contract fixtures). Status names are matched in any case.
- Sinch Classic: ``{"event": "incomingSms", "to": {...}, "from": {...},
  "message", "timestamp", "version"}``.
- Clickatell: a status push, as JSON (``{"data": {"apiMessageId", "to",
  "messageStatus", "timestamp", ...}}``, or the same keys unwrapped) or as
  form/query fields of the HTTP method (``apiMsgId``, ``to``, ``status``,
  ``timestamp``); and an inbound message (``moMsgId``, ``from``, ``to``,
  ``text``).

Anything else raises ``Malformed`` (the receiver answers 400). Bodies are
hostile until parsed: wrong types, huge numbers, deep nesting and bytes that
are not UTF-8 are ``Malformed`` too, never another exception, and a
``Malformed`` message never quotes a number or a message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import math
import re

import orjson

from bulksend.delivery.model import DeliveryStatus, clickatell_status, xms_status
from bulksend.delivery.resolve import Ref


class Malformed(ValueError):
    """The body is not a callback we understand."""


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


# -- Sinch XMS --------------------------------------------------------------
def parse_xms(body: bytes) -> Parsed:
    data = load_json(body)
    kind = data.get("type")
    if kind in ("recipient_delivery_report_sms", "recipient_delivery_report_mms"):
        return Parsed("recipient_report", (_xms_recipient(data),))
    if kind in ("delivery_report_sms", "delivery_report_mms"):
        return Parsed("batch_report", _xms_batch(data))
    if kind in ("mo_text", "mo_binary", "mo_media"):
        return Parsed("inbound", inbound=(_xms_mo(data),))
    raise Malformed(f"unknown XMS callback type {shown(kind)}")


def _xms_recipient(data: Mapping[str, Any]) -> StatusEvent:
    batch_id = text(data.get("batch_id"), "batch_id")
    status = text(data.get("status"), "status")
    ref = Ref(batch_id, number(data.get("recipient"), "recipient"), _reference(data))
    return StatusEvent(ref, xms_status(status), status, _code(data), timestamp(data.get("at")))


def _reference(data: Mapping[str, Any]) -> str:
    reference = data.get("client_reference")
    return reference if isinstance(reference, str) and len(reference) <= 2 * MAX_FIELD else ""


def _code(data: Mapping[str, Any]) -> str:
    """The delivery code as text; one that is not a plain number or short string is left out."""
    value = data.get("code")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else ""


def _xms_batch(data: Mapping[str, Any]) -> tuple[StatusEvent, ...]:
    batch_id, statuses = text(data.get("batch_id"), "batch_id"), data.get("statuses")
    if not isinstance(statuses, list):
        raise Malformed("a batch report needs batch_id and statuses")
    reference = _reference(data)
    events = []
    for entry in statuses:
        if not isinstance(entry, dict):
            raise Malformed("each batch report status is an object")
        status = text(entry.get("status"), "each batch report status")
        recipients = entry.get("recipients", [])
        if not isinstance(recipients, list):
            raise Malformed("recipients must be a list")
        for recipient in recipients:
            events.append(StatusEvent(Ref(batch_id, number(recipient, "recipient"), reference), xms_status(status),
                                      status, _code(entry), None))
    return tuple(events)


def _xms_mo(data: Mapping[str, Any]) -> InboundEvent:
    sender, to = number(data.get("from"), "from"), number(data.get("to"), "to")
    when = timestamp(data.get("received_at")) or timestamp(data.get("sent_at"))
    message_id = text(data.get("id"), "id", required=False)
    if data.get("type") != "mo_media":
        return InboundEvent(sender, to, body_text(data.get("body")), when, message_id)
    content = data.get("body")
    if not isinstance(content, dict):
        raise Malformed("an mo_media body is an object")
    items = content.get("media") or []
    if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
        raise Malformed("mo_media media is a list of objects")
    media = tuple(m["url"] for m in items if isinstance(m.get("url"), str))
    return InboundEvent(sender, to, body_text(content.get("message")), when, message_id, media)


# -- Sinch Classic ----------------------------------------------------------
def parse_classic(body: bytes) -> Parsed:
    data = load_json(body)
    if data.get("event") != "incomingSms":
        raise Malformed(f"unknown Classic callback event {shown(data.get('event'))}")
    to, sender = data.get("to"), data.get("from")
    if not isinstance(to, dict) or not isinstance(sender, dict):
        raise Malformed("incomingSms needs to and from identities")
    return Parsed("inbound", inbound=(InboundEvent(
        number(sender.get("endpoint"), "from.endpoint"), number(to.get("endpoint"), "to.endpoint", required=False),
        body_text(data.get("message")), timestamp(data.get("timestamp"))),))


# -- Clickatell -------------------------------------------------------------
def parse_clickatell(body: bytes, content_type: str, query: Mapping[str, str]) -> Parsed:
    """A JSON push, a form POST or a GET with query fields."""
    if body.strip() and "json" in content_type:
        data = load_json(body)
        fields = data.get("data") if isinstance(data.get("data"), dict) else data
    elif body.strip() and "form" in content_type:
        from urllib.parse import parse_qsl

        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body.strip():
        raise Malformed("a Clickatell callback is JSON, a form or query fields")
    else:
        fields = dict(query)
    if not isinstance(fields, dict):
        raise Malformed("the callback has no fields")
    if fields.get("moMsgId") or (fields.get("text") is not None and fields.get("from")):
        return Parsed("inbound", inbound=(InboundEvent(
            number(fields.get("from"), "from"), number(fields.get("to"), "to", required=False),
            body_text(fields.get("text")), timestamp(fields.get("timestamp")),
            text(fields.get("moMsgId"), "moMsgId", required=False)),))
    message_id = fields.get("apiMessageId") or fields.get("apiMsgId")
    status = fields.get("messageStatus") or fields.get("status")
    if not message_id or status is None:
        raise Malformed("a Clickatell status needs apiMessageId and messageStatus")
    code = text(status, "messageStatus")
    ref = Ref(text(message_id, "apiMessageId"), number(fields.get("to"), "to", required=False), "")
    return Parsed("status", (StatusEvent(ref, clickatell_status(code), code, code,
                                         timestamp(fields.get("timestamp"))),))
