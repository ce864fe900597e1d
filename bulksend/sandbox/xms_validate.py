"""What the sandbox's Sinch XMS API accepts in a batch, and how it normalizes it.

Rules and limits are Sinch's public documentation checked
against the official SDKs' models (``sinch/sinch-sdk-node``
``packages/sms/src/models/v1/``) and fixtures (``sinch/sinch-sdk-java``
``openapi-contracts/.../sms/v1/``). Where they disagree the newer wins:
the Java fixtures echo ``to`` with ``+``, the current REST docs say every MSISDN
comes back without ``+`` or ``00``, and that is what the sandbox does.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aiohttp import web

from bulksend.core.numbers import normalize_msisdn
from bulksend.errors import RecipientError
from bulksend.sandbox.clock import parse_iso
from bulksend.sandbox.http import bad_format, error, violation

MAX_TO = 1000
MAX_BODY = 2000
MAX_BINARY = 140            # bytes of body + udh in one binary message
MAX_CALLBACK_URL = 2048
MAX_CLIENT_REFERENCE = 2048  # Sinch docs: "max 2048 characters"
THREE_DAYS = 3 * 24 * 3600.0
REPORT_TYPES = ("none", "summary", "full", "per_recipient", "per_recipient_final")
TYPES = ("mt_text", "mt_binary")
MMS_TEXT = "type: mt_media (MMS) is not supported by the sandbox; it speaks SMS only"
_PARAM_KEY = re.compile(r"^[A-Za-z0-9._-]{1,16}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_GROUP_ID = re.compile(r"^[0-9A-Z]{26}$")


def msisdn_out(number: str) -> str:
    """A number as Sinch writes it back: without ``+`` or ``00`` (digits only when it is a number)."""
    try:
        return normalize_msisdn(number)
    except RecipientError:
        return number


def check_batch(data: Any, *, partial: bool = False) -> str | web.Response:
    """``""`` when the fields present are valid, else the 400 Sinch answers.

    ``partial`` (an update) does not require ``to`` or ``body``.
    """
    if not isinstance(data, dict):
        return error(400, "syntax_invalid_json", "The request body must be a JSON object")
    kind = data.get("type", "mt_text")
    if kind == "mt_media" or isinstance(data.get("body"), dict):
        return violation(MMS_TEXT)
    if kind not in TYPES:
        return bad_format(f"type: {kind!r} is not one of {', '.join(TYPES)}")
    problem = _check_body(data, kind, partial)
    if problem is not None:
        return problem
    report = data.get("delivery_report", "none")
    if report not in REPORT_TYPES:
        return bad_format(f"delivery_report: {report!r} is not one of {', '.join(REPORT_TYPES)}")
    text = (_check_parameters(data.get("parameters")) or _check_sender(data.get("from"))
            or _check_callback(data.get("callback_url")) or _check_numbers(data) or _check_times(data))
    return bad_format(text) if text else ""


def _check_body(data: dict[str, Any], kind: str, partial: bool) -> web.Response | None:
    body = data.get("body")
    if body is None and partial:
        return None
    if not isinstance(body, str):
        return violation("body: must be a string")
    if kind == "mt_text":
        return violation(f"body: at most {MAX_BODY} characters, got {len(body)}") if len(body) > MAX_BODY else None
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return bad_format("body: an mt_binary body must be Base64")
    udh = data.get("udh")
    if not isinstance(udh, str) or not _HEX.match(udh):
        return bad_format("udh: an mt_binary batch needs a hex-encoded udh")
    if len(raw) + len(udh) // 2 > MAX_BINARY:
        return violation(f"body: body and udh together at most {MAX_BINARY} bytes")
    return None


def _check_sender(sender: Any) -> str:
    """Numeric senders up to 15 digits, alphanumeric up to 11 characters (GSM)."""
    if sender is None:
        return ""
    if not isinstance(sender, str) or not sender:
        return "from: must be a non-empty string"
    digits = sender.lstrip("+")
    if digits.isdigit():
        return "" if len(digits) <= 15 else f"from: numeric sender over 15 digits: {sender!r}"
    return "" if len(sender) <= 11 else f"from: alphanumeric sender over 11 characters: {sender!r}"


def _check_callback(url: Any) -> str:
    if url is None:
        return ""
    if not isinstance(url, str):
        return f"callback_url: must be a string, not {url!r}"  # the scheme and host: xms._refuse_callback
    return "" if len(url) <= MAX_CALLBACK_URL else f"callback_url: at most {MAX_CALLBACK_URL} characters"


def _check_numbers(data: dict[str, Any]) -> str:
    ref = data.get("client_reference")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_CLIENT_REFERENCE):
        return f"client_reference: a string of at most {MAX_CLIENT_REFERENCE} characters"
    for name, low, high in (("from_ton", 0, 6), ("from_npi", 0, 18), ("max_number_of_message_parts", 1, 255)):
        value = data.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            return f"{name}: must be an integer from {low} to {high}"
    for name in ("flash_message", "feedback_enabled", "truncate_concat"):
        if name in data and not isinstance(data[name], bool):
            return f"{name}: must be true or false"
    return ""


def _check_times(data: dict[str, Any]) -> str:
    stamps: dict[str, float] = {}
    for name in ("send_at", "expire_at"):
        value = data.get(name)
        if value is None:
            continue
        try:
            stamps[name] = parse_iso(value)
        except (ValueError, TypeError, AttributeError):
            return f"{name}: {value!r} is not an ISO-8601 timestamp"
    if "send_at" in stamps and "expire_at" in stamps and stamps["expire_at"] <= stamps["send_at"]:
        return "expire_at: must be after send_at"
    return ""


def _check_parameters(params: Any) -> str:
    if params is None:
        return ""
    if not isinstance(params, dict):
        return "parameters: must be an object"
    for key, values in params.items():
        if not _PARAM_KEY.match(key):
            return f"parameters: invalid key {key!r}"
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return f"parameters.{key}: must map MSISDN or 'default' to a string"
    return ""


def normalized_parameters(params: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Parameter values keyed by the digits-only MSISDN (``+46...`` and ``0046...`` find ``46...``)."""
    return {key: {(k if k == "default" else msisdn_out(k)): v for k, v in values.items()}
            for key, values in params.items()}


def echo_to(entries: list[str]) -> list[str]:
    """``to`` as Sinch writes it back: numbers without ``+``/``00``, group ids as given."""
    return [e if is_group_id(e) else msisdn_out(e) for e in entries]


def is_group_id(entry: str) -> bool:
    return bool(_GROUP_ID.match(entry)) and not entry.isdigit()


def normalized_to(to: Any, groups: dict[str, dict[str, Any]], *, each_number: bool = True,
                  partial_name: str = "to") -> list[str] | web.Response:
    """The recipients, digits only, group ids expanded; or Sinch's 400/403.

    A sink (``each_number=False``) checks the request's shape but not each
    number: it is there to count what a client sends as cheaply as it can,
    and checking 200 numbers a request was a sixth of its time.
    """
    if not isinstance(to, list) or not to:
        return violation(f"{partial_name}: must contain at least one recipient")
    if len(to) > MAX_TO:
        return violation(f"{partial_name}: at most {MAX_TO} recipients, got {len(to)}")
    if not each_number:
        return to if all(isinstance(n, str) for n in to) else bad_format(f"{partial_name}: every recipient must be a string")
    out: list[str] = []
    for number in to:
        if not isinstance(number, str):
            return bad_format(f"{partial_name}: {number!r} is not a string")
        if is_group_id(number):
            group = groups.get(number)
            if group is None:
                return error(403, "unknown_group", f"unknown group {number!r}")
            out.extend(group["members"])
            continue
        try:
            out.append(number if number.isdigit() and number[0] != "0" and 7 <= len(number) <= 15
                       else normalize_msisdn(number))
        except RecipientError:
            return bad_format(f"{partial_name}: invalid MSISDN {number!r}")
    return out


def validate_batch(data: Any, groups: dict[str, dict[str, Any]] | None = None, *,
                   each_number: bool = True) -> list[str] | web.Response:
    """The normalized ``to`` list of a whole batch (send, replace, dry run), or the error Sinch answers."""
    if isinstance(data, dict):
        early = normalized_to(data.get("to"), {}, each_number=False)
        if isinstance(early, web.Response):
            return early
    problem = check_batch(data)
    if isinstance(problem, web.Response):
        return problem
    return normalized_to(data["to"], groups or {}, each_number=each_number)
