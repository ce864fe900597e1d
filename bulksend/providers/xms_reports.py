"""Sinch XMS delivery reports and inbound messages: bodies in, events out.

No I/O, no verification. What XMS POSTs to a ``callback_url``, and what
``GET .../batches/{id}/delivery_report?type=full`` answers:

- ``recipient_delivery_report_sms`` (one recipient, per_recipient and
  per_recipient_final);
- ``delivery_report_sms`` (a batch: ``full`` lists the recipients of each
  status, ``summary`` only counts them, so it yields no per-recipient event);
- ``mo_text``/``mo_binary`` inbound messages.

Anything else raises ``Malformed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulksend.providers.callbacks import (
    DeliveryStatus,
    InboundEvent,
    Malformed,
    Parsed,
    Ref,
    StatusEvent,
    load_json,
    number,
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


def xms_status(value: str) -> DeliveryStatus:
    return XMS_STATUS.get(value, DeliveryStatus.UNKNOWN)


def parse_callback(body: bytes) -> Parsed:
    data = load_json(body)
    kind = data.get("type")
    if kind in ("recipient_delivery_report_sms", "recipient_delivery_report_mms"):
        return Parsed("recipient_report", (_recipient(data),))
    if kind in ("delivery_report_sms", "delivery_report_mms"):
        return Parsed("batch_report", _batch(data))
    if kind in ("mo_text", "mo_binary"):
        return Parsed("inbound", inbound=(_mo(data),))
    raise Malformed(f"unknown XMS callback type {str(kind)[:40]!r}")


def parse_report(body: bytes) -> tuple[StatusEvent, ...]:
    """The per-recipient statuses of a batch delivery report (a polled ``type=full`` answer)."""
    parsed = parse_callback(body)
    return parsed.statuses


def _recipient(data: Mapping[str, Any]) -> StatusEvent:
    batch_id, recipient, status = data.get("batch_id"), data.get("recipient"), data.get("status")
    if not isinstance(batch_id, str) or not recipient or not isinstance(status, str):
        raise Malformed("a recipient report needs batch_id, recipient and status")
    ref = Ref(batch_id, number(recipient), str(data.get("client_reference") or ""))
    return StatusEvent(ref, xms_status(status), status, str(data.get("code", "")), timestamp(data.get("at")))


def _batch(data: Mapping[str, Any]) -> tuple[StatusEvent, ...]:
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
            events.append(StatusEvent(Ref(batch_id, number(recipient), reference), xms_status(entry["status"]),
                                      entry["status"], str(entry.get("code", "")), None))
    return tuple(events)


def _mo(data: Mapping[str, Any]) -> InboundEvent:
    sender, to = data.get("from"), data.get("to")
    if not sender or not to:
        raise Malformed("an inbound message needs from and to")
    when = timestamp(data.get("received_at")) or timestamp(data.get("sent_at"))
    return InboundEvent(number(sender), number(to), str(data.get("body") or ""), when, str(data.get("id") or ""))
