"""Clickatell status pushes and inbound messages: bodies in, events out.

No I/O, no verification. A status push comes as JSON (``{"data":
{"apiMessageId", "to", "messageStatus", "timestamp", ...}}``, or the same
keys unwrapped) or as form/query fields of the HTTP method (``apiMsgId``,
``to``, ``status``, ``timestamp``); an inbound message carries ``moMsgId``,
``from``, ``to`` and ``text``. Anything else raises ``Malformed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from bulksend.providers.callbacks import (
    DeliveryStatus,
    InboundEvent,
    Malformed,
    Parsed,
    Ref,
    StatusEvent,
    body_text,
    load_json,
    number,
    text,
    timestamp,
)

#: Clickatell messageStatus codes
CLICKATELL_STATUS = {
    "001": DeliveryStatus.UNKNOWN,    # message unknown
    "002": DeliveryStatus.PENDING,    # queued
    "003": DeliveryStatus.PENDING,    # delivered to gateway
    "004": DeliveryStatus.DELIVERED,  # received by recipient
    "005": DeliveryStatus.FAILED,     # error with message
    "006": DeliveryStatus.ABORTED,    # user cancelled delivery
    "007": DeliveryStatus.FAILED,     # error delivering message
    "008": DeliveryStatus.PENDING,    # OK (received by Clickatell)
    "009": DeliveryStatus.FAILED,     # routing error
    "010": DeliveryStatus.EXPIRED,    # message expired
    "011": DeliveryStatus.PENDING,    # scheduled for later delivery
    "012": DeliveryStatus.FAILED,     # out of credit
    "013": DeliveryStatus.ABORTED,    # Clickatell cancelled the message
    "014": DeliveryStatus.FAILED,     # maximum MT limit exceeded
}


def clickatell_status(value: str) -> DeliveryStatus:
    code = value.strip()
    if code.isdigit():
        code = code.zfill(3)
    return CLICKATELL_STATUS.get(code, DeliveryStatus.UNKNOWN)


def parse_callback(body: bytes, content_type: str, query: Mapping[str, str]) -> Parsed:
    """A JSON push, a form POST or a GET with query fields."""
    if body.strip() and "json" in content_type:
        data = load_json(body)
        fields = data.get("data") if isinstance(data.get("data"), dict) else data
    elif body.strip() and "form" in content_type:
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
