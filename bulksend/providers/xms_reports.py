"""Sinch XMS delivery reports and inbound messages: bodies in, events out.

No I/O, no verification. What XMS POSTs to a ``callback_url``, and what
``GET .../batches/{id}/delivery_report?type=full`` answers:

- ``recipient_delivery_report_sms`` (one recipient, per_recipient and
  per_recipient_final);
- ``delivery_report_sms`` (a batch: ``full`` lists the recipients of each
  status, ``summary`` only counts them, so it yields no per-recipient event);
- ``mo_text``, ``mo_binary`` (Base64 body, kept as sent) and ``mo_media``
  inbound messages (``body`` is an object: ``subject``, ``message`` and
  ``media: [{url, contentType, status, code}]``, as in Sinch's SDK contract
  fixtures).

Status names are matched in any case. Anything else raises ``Malformed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulksend.providers.callbacks import (
    MAX_FIELD,
    DeliveryStatus,
    InboundEvent,
    Malformed,
    Parsed,
    Ref,
    StatusEvent,
    body_text,
    load_json,
    number,
    shown,
    status_lookup,
    text,
    timestamp,
)

#: Sinch XMS statuses (delivery reports, callbacks)
XMS_STATUS = {
    "Delivered": DeliveryStatus.DELIVERED, "Failed": DeliveryStatus.FAILED,
    "Expired": DeliveryStatus.EXPIRED, "Rejected": DeliveryStatus.REJECTED,
    "Aborted": DeliveryStatus.ABORTED, "Cancelled": DeliveryStatus.ABORTED,
    "Deleted": DeliveryStatus.FAILED, "Queued": DeliveryStatus.PENDING,
    "Dispatched": DeliveryStatus.PENDING, "Unknown": DeliveryStatus.UNKNOWN,
}


#: an XMS status word (in any case) -> ``DeliveryStatus``
xms_status = status_lookup(XMS_STATUS)


def parse_callback(body: bytes) -> Parsed:
    data = load_json(body)
    kind = data.get("type")
    if kind in ("recipient_delivery_report_sms", "recipient_delivery_report_mms"):
        return Parsed("recipient_report", (_recipient(data),))
    if kind in ("delivery_report_sms", "delivery_report_mms"):
        return Parsed("batch_report", _batch(data))
    if kind in ("mo_text", "mo_binary", "mo_media"):
        return Parsed("inbound", inbound=(_mo(data),))
    raise Malformed(f"unknown XMS callback type {shown(kind)}")


def parse_report(body: bytes) -> tuple[StatusEvent, ...]:
    """The per-recipient statuses of a batch delivery report (a polled ``type=full`` answer)."""
    parsed = parse_callback(body)
    return parsed.statuses


def _recipient(data: Mapping[str, Any]) -> StatusEvent:
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


def _batch(data: Mapping[str, Any]) -> tuple[StatusEvent, ...]:
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


def _mo(data: Mapping[str, Any]) -> InboundEvent:
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
