"""Callback bodies in, events out: no I/O, no verification (see ``verify``).

What each provider POSTs (providers.md §1–3):

- Sinch XMS: ``recipient_delivery_report_sms`` (one recipient, per_recipient
  and per_recipient_final), ``delivery_report_sms`` (a batch: ``full`` lists
  the recipients of each status, ``summary`` only counts them, so it yields
  no per-recipient event), and ``mo_text``/``mo_binary``/``mo_media`` inbound messages.
- Sinch Classic: ``{"event": "incomingSms", "to": {...}, "from": {...},
  "message", "timestamp", "version"}``.
- Clickatell: a status push, as JSON (``{"data": {"apiMessageId", "to",
  "messageStatus", "timestamp", ...}}``, or the same keys unwrapped) or as
  form/query fields of the HTTP method (``apiMsgId``, ``to``, ``status``,
  ``timestamp``); and an inbound message (``moMsgId``, ``from``, ``to``,
  ``text``).

Anything else raises ``Malformed`` (the receiver answers 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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
    raise Malformed(f"unknown XMS callback type {str(kind)[:40]!r}")


def _xms_recipient(data: Mapping[str, Any]) -> StatusEvent:
    batch_id, recipient, status = data.get("batch_id"), data.get("recipient"), data.get("status")
    if not isinstance(batch_id, str) or not recipient or not isinstance(status, str):
        raise Malformed("a recipient report needs batch_id, recipient and status")
    ref = Ref(batch_id, number(recipient), str(data.get("client_reference") or ""))
    return StatusEvent(ref, _status(status), status, str(data.get("code", "")), timestamp(data.get("at")))


def _xms_batch(data: Mapping[str, Any]) -> tuple[StatusEvent, ...]:
    batch_id, statuses = data.get("batch_id"), data.get("statuses")
    if not isinstance(batch_id, str) or not isinstance(statuses, list):
        raise Malformed("a batch report needs batch_id and statuses")
    reference = str(data.get("client_reference") or "")
    events = []
    for entry in statuses:
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
            raise Malformed("each batch report status needs a status")
        recipients = entry.get("recipients", [])
        if not isinstance(recipients, list):
            raise Malformed("recipients must be a list")
        for recipient in recipients:
            events.append(StatusEvent(Ref(batch_id, number(recipient), reference), _status(entry["status"]),
                                      entry["status"], str(entry.get("code", "")), None))
    return tuple(events)


def _status(value: str) -> DeliveryStatus:
    """Sinch writes "Delivered"; its SDKs also use "DELIVERED" (the status filter enums)."""
    return xms_status(value.strip().capitalize())


def _xms_mo(data: Mapping[str, Any]) -> InboundEvent:
    sender, to = data.get("from"), data.get("to")
    if not sender or not to:
        raise Malformed("an inbound message needs from and to")
    when = timestamp(data.get("received_at")) or timestamp(data.get("sent_at"))
    body = data.get("body")
    if isinstance(body, dict):  # mo_media: {"subject", "message", "media": [...]}; the text is "message"
        body = body.get("message")
    return InboundEvent(number(sender), number(to), str(body or ""), when, str(data.get("id") or ""))


# -- Sinch Classic ----------------------------------------------------------
def parse_classic(body: bytes) -> Parsed:
    data = load_json(body)
    if data.get("event") != "incomingSms":
        raise Malformed(f"unknown Classic callback event {str(data.get('event'))[:40]!r}")
    to, sender = data.get("to"), data.get("from")
    if not isinstance(to, dict) or not isinstance(sender, dict) or not sender.get("endpoint"):
        raise Malformed("incomingSms needs to and from identities")
    return Parsed("inbound", inbound=(InboundEvent(
        number(sender.get("endpoint")), number(to.get("endpoint")), str(data.get("message") or ""),
        timestamp(data.get("timestamp"))),))


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
            number(fields.get("from")), number(fields.get("to")), str(fields.get("text") or ""),
            timestamp(fields.get("timestamp")), str(fields.get("moMsgId") or "")),))
    message_id = fields.get("apiMessageId") or fields.get("apiMsgId")
    status = fields.get("messageStatus") or fields.get("status")
    if not message_id or status is None:
        raise Malformed("a Clickatell status needs apiMessageId and messageStatus")
    code = str(status)
    ref = Ref(str(message_id), number(fields.get("to")), "")
    return Parsed("status", (StatusEvent(ref, clickatell_status(code), code, code,
                                         timestamp(fields.get("timestamp"))),))
