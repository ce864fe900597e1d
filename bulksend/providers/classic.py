"""The Sinch Classic messaging API codec. No I/O.

One recipient per request: ``POST {base}/v1/sms/+{number}`` with
``{"message": ..., "from"?: ...}``, answered ``{"messageId": 123}``. Errors
carry ``{"errorCode": 40001, "message": ..., "reference": ...}``; the code
decides, the HTTP status is the fallback:

=======================  ===========================================
40001, 40002, 40003      the recipient fails (not retried)
40100, 40300, 40301,     ``CampaignRefused``: key, secret or access
40303, 401, 403
40200, 402               ``CampaignRefused``: not enough funds
50000, 5xx               ``TransientError`` (retried)
429                      ``RateLimited``
404                      ``CampaignRefused``: base_url is wrong
=======================  ===========================================

Authentication is Basic or the signed request (``signing.sign_classic``),
with time injected through ``clock`` so a signature can be reproduced.
The status of a sent message is asked with ``status_request`` /
``parse_status`` (``bulksend track``). Classic has no templating: the one
recipient's text is rendered here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from bulksend.config import PlanConfig, secret_from_env
from bulksend.core.templates import render
from bulksend.errors import CampaignRefused, ConfigError, RateLimited, TransientError
from bulksend.models import (
    Batch,
    BatchResult,
    HttpRequest,
    HttpResponse,
    Message,
    Outcome,
    Status,
)
from bulksend.providers.base import (
    CallbackCheck,
    LookupWindow,
    ProviderSpec,
    Verified,
    gsm_sender_problem,
    parse_retry_after,
)
from bulksend.providers.callbacks import (
    DeliveryStatus,
    InboundEvent,
    Malformed,
    Parsed,
    PolledStatus,
    StatusPoll,
    body_text,
    load_json,
    number,
    shown,
    status_lookup,
    timestamp,
)
from bulksend.providers.signing import (
    MAX_SKEW,
    basic_classic,
    decode_secret,
    header,
    iso_timestamp,
    parse_timestamp,
    sign_classic,
    verify_classic,
)

AUTH_SCHEMES = ("basic", "signed")
RECIPIENT_CODES = frozenset({40001, 40002, 40003})
AUTH_CODES = frozenset({40100, 40300, 40301, 40303})
FUNDS_CODE = 40200
INTERNAL_CODE = 50000
#: what the status endpoint may answer; Successful and Faulted are final
STATUSES = ("Unknown", "Pending", "Successful", "Faulted")
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class SinchClassic:
    base_url: str
    key: str = field(repr=False)
    secret: str = field(repr=False)
    auth: str = "signed"
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    name: str = "sinch_classic"
    max_batch: int = 1
    supports_send_at: bool = False

    def __post_init__(self) -> None:
        if self.auth not in AUTH_SCHEMES:
            raise ValueError(f"auth must be one of {AUTH_SCHEMES}, not {self.auth!r}")
        if self.auth == "signed":
            decode_secret(self.secret)  # refuse a secret that cannot sign, before anything is sent

    def _url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    def _signed(self, method: str, url: str, body: bytes) -> dict[str, str]:
        if self.auth == "basic":
            headers = {"Authorization": basic_classic(self.key, self.secret)}
            if body:
                headers["Content-Type"] = _JSON
            return headers
        return sign_classic(method, urlsplit(url).path, body, _JSON, self.key, self.secret,
                            iso_timestamp(self.clock()))

    def max_batch_for(self, message: Message) -> int:
        return self.max_batch  # one recipient a request anyway

    def send_request(self, batch: Batch, message: Message) -> HttpRequest:
        if batch.size != 1:
            raise ValueError(f"Sinch Classic sends to one number per request, not {batch.size}")
        recipient = batch.recipients[0]
        payload: dict[str, Any] = {"message": render(message.body, recipient.params, message.defaults)}
        if message.sender:
            payload["from"] = message.sender
        body = orjson.dumps(payload)
        url = self._url(f"/v1/sms/{quote('+' + recipient.msisdn, safe='+')}")
        return HttpRequest("POST", url, self._signed("POST", url, body), body)

    def parse_send(self, batch: Batch, response: HttpResponse) -> BatchResult:
        status = response.status
        data = _json(response.body)
        if 200 <= status < 300:
            message_id = data.get("messageId")
            return BatchResult(Outcome(Status.ACCEPTED, provider_id="" if message_id is None else str(message_id)))
        code, text = error_fields(data)
        raise_for_error(status, code, text, response)
        return BatchResult(Outcome(Status.FAILED, code=str(code or status), text=text))

    def lookup_request(self, batch: Batch, window: LookupWindow | None = None) -> HttpRequest | None:
        return None  # Classic cannot be asked by client reference

    def parse_lookup(self, batch: Batch, response: HttpResponse) -> Outcome | None:
        return None

    def cancel_request(self, provider_id: str) -> HttpRequest | None:
        return None

    # -- delivery status (polling) -------------------------------------------
    def status_request(self, message_id: str) -> HttpRequest:
        url = self._url(f"/v1/message/status/{quote(message_id, safe='')}")
        return HttpRequest("GET", url, self._signed("GET", url, b""))

    def parse_status(self, response: HttpResponse) -> str:
        """``Unknown``, ``Pending``, ``Successful`` or ``Faulted``."""
        data = _json(response.body)
        if not 200 <= response.status < 300:
            code, text = error_fields(data)
            raise_for_error(response.status, code, text, response)
            raise TransientError(f"Sinch Classic status answered {response.status}", status=response.status)
        value = data.get("status")
        return value if value in STATUSES else "Unknown"

    def poll_requests(self, sent: Sequence[tuple[str, str]]) -> list[StatusPoll]:
        """One status request per message (one recipient each)."""
        return [StatusPoll(self.status_request(message_id), message_id, (msisdn,)) for message_id, msisdn in sent]

    def parse_poll(self, poll: StatusPoll, response: HttpResponse) -> list[PolledStatus]:
        value = self.parse_status(response)
        return [PolledStatus(poll.provider_id, msisdn, classic_status(value), value) for msisdn in poll.msisdns]


#: Sinch Classic message status
CLASSIC_STATUS = {
    "Successful": DeliveryStatus.DELIVERED, "Faulted": DeliveryStatus.FAILED,
    "Pending": DeliveryStatus.PENDING, "Unknown": DeliveryStatus.UNKNOWN,
}


#: a Classic status word (in any case) -> ``DeliveryStatus``
classic_status = status_lookup(CLASSIC_STATUS)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def error_fields(data: dict[str, Any]) -> tuple[int | None, str]:
    """``(errorCode, message)`` of an error body; the reference is kept out of messages."""
    raw = data.get("errorCode")
    try:
        code = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        code = None
    return code, str(data.get("message", "") or "")


def raise_for_error(status: int, code: int | None, text: str, response: HttpResponse) -> None:
    """Raise for every error that is not the recipient's alone."""
    kw: dict[str, Any] = {"status": status, "code": "" if code is None else str(code), "text": text}
    label = f"Sinch Classic {status}" + (f" {code}" if code is not None else "")
    if code == FUNDS_CODE or (code is None and status == 402):
        raise CampaignRefused(f"{label}: not enough funds to send the message", **kw)
    if code in AUTH_CODES or (code is None and status in (401, 403)):
        raise CampaignRefused(f"{label}: refused the application key/secret or its access ({text or 'auth'})",
                              **kw)
    if code in RECIPIENT_CODES:
        return
    if status == 429:
        raise RateLimited(f"{label}: rate limited", retry_after=parse_retry_after(response.headers), **kw)
    if code == INTERNAL_CODE or status >= 500:
        raise TransientError(f"{label}: internal error", retry_after=parse_retry_after(response.headers), **kw)
    if status == 404:
        raise CampaignRefused(f"{label}: nothing at that URL; check the plan's base_url", **kw)


# -- the plan's keys, the factory and callbacks (see ``registry``) -----------
KEYS = frozenset({"key_env", "secret_env", "auth"})
DEFAULT_URL = "https://messagingapi.sinch.com"


def base_url(options: Mapping[str, Any], given: str | None, where: str, source: str) -> str:
    return given or DEFAULT_URL


def build(plan: PlanConfig, env: Mapping[str, str]) -> SinchClassic:
    auth = plan.options.get("auth", "signed")
    if auth not in AUTH_SCHEMES:
        raise ConfigError(f"plans.{plan.name}.auth must be \"basic\" or \"signed\", not {auth!r}")
    key = secret_from_env(env, plan.options.get("key_env"), plan, what="key")
    secret = secret_from_env(env, plan.options.get("secret_env"), plan, what="secret")
    try:
        return SinchClassic(plan.base_url, key, secret, auth)
    except ValueError as exc:  # the secret cannot sign (not Base64)
        raise ConfigError(f"plans.{plan.name}: {exc} (read from {plan.options.get('secret_env')})") from None


def parse_callback(body: bytes, content_type: str = "", query: Mapping[str, str] | None = None) -> Parsed:
    """``{"event": "incomingSms", "to": {...}, "from": {...}, "message", "timestamp", "version"}``."""
    data = load_json(body)
    if data.get("event") != "incomingSms":
        raise Malformed(f"unknown Classic callback event {shown(data.get('event'))}")
    to, sender = data.get("to"), data.get("from")
    if not isinstance(to, dict) or not isinstance(sender, dict):
        raise Malformed("incomingSms needs to and from identities")
    return Parsed("inbound", inbound=(InboundEvent(
        number(sender.get("endpoint"), "from.endpoint"), number(to.get("endpoint"), "to.endpoint", required=False),
        body_text(data.get("message")), timestamp(data.get("timestamp"))),))


def callback_check(plan: PlanConfig, env: Mapping[str, str]) -> CallbackCheck:
    """Always the signed-request scheme with the plan's key and secret (Sinch
    signs Classic callbacks that way), over the path the listener sees. A
    signature stays fresh until its ``x-timestamp`` leaves the skew window."""
    key = secret_from_env(env, plan.options.get("key_env"), plan, "key")
    secret = secret_from_env(env, plan.options.get("secret_env"), plan, "secret")

    def classic(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        stamp = header(headers, "x-timestamp") or ""
        when = parse_timestamp(stamp) if stamp else None
        if when is None or not verify_classic(method, path, body, headers, key, secret, now):
            return None
        return Verified((header(headers, "authorization") or "").rpartition(":")[2], when + MAX_SKEW)

    return classic


#: ``from``: a number or an alphanumeric sender (seed 003, "From" field restrictions)
SENDER_DIGITS, SENDER_ALPHANUMERIC = 15, 11

#: one recipient a request; no ``max_expiry``: the API takes no expiry, so ``--expire-at`` is refused
SPEC = ProviderSpec("sinch_classic", KEYS, build, base_url, parse_callback, callback_check, max_batch=1,
                    sender_problem=lambda s: gsm_sender_problem(s, SENDER_DIGITS, SENDER_ALPHANUMERIC))
