"""The Clickatell REST API codec. No I/O.

``POST {base}/rest/message`` with ``X-Version: 1``, ``Authorization: Bearer``
and a JSON or XML body carrying one ``text`` for up to 200 numbers (digits
only). The answer lists every number with its own outcome, so one request
can accept some numbers and refuse others (207).

Status mapping (what ``parse_send`` does):

==========  ==============================================================
202, 200    every listed number by its own ``accepted``; a number missing
            from an unreadable 202 body is accepted (the status says so)
207         mixed: each listed number by its own entry; a number missing
            from the list is ``unknown`` (it may have been sent)
400         numbers listed with errors fail; without a list the batch fails
410         blocked/unroutable: a 410 for a whole request means no number
            was accepted (a mix would be 207), so the numbers listed fail
            with their own codes and, without a list, every number of the
            request fails with code 410; the campaign goes on, nothing is
            retried
401, 403    ``CampaignRefused``: the token (or IP lockdown) is wrong
402         ``CampaignRefused``: no credit left
404         ``CampaignRefused``: base_url is wrong
429, 5xx    ``RateLimited`` / ``TransientError`` (``Retry-After`` honoured)
==========  ==============================================================

XML (``format = "xml"``) mirrors the JSON element for element
(``<request><text/><to/>...</request>``; ``<response><data><message>
<accepted/><to/><apiMessageId/><error><code/><description/></error>
</message></data></response>``); the seed shows only JSON, so the reader is
tolerant: it looks for ``message`` elements anywhere and reads the answer in
the format its ``Content-Type`` says, whatever was asked.

Clickatell has no templating: ``max_batch_for`` tells the engine to send a
templated message one number per request (each rendered for its recipient);
a plain message goes in full batches of 200.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bulksend.config import PlanConfig, secret_from_env
from bulksend.core.templates import placeholders, render
from bulksend.errors import (
    BatchRejected,
    CampaignRefused,
    ConfigError,
    RateLimited,
    TransientError,
)
from bulksend.models import (
    Batch,
    BatchResult,
    HttpRequest,
    HttpResponse,
    Message,
    Outcome,
    Status,
)
from bulksend.providers._xml import UnsafeXml, parse_untrusted, text_of
from bulksend.providers.base import (
    CallbackCheck,
    LookupWindow,
    ProviderSpec,
    Verified,
    gsm_sender_problem,
    parse_retry_after,
)
from bulksend.providers.callbacks import PolledStatus, StatusPoll
from bulksend.providers.clickatell_reports import parse_callback
from bulksend.providers.signing import verify_basic_password

MAX_TO = 200
#: ``from``: a two-way number or a registered sender ID, as the GSM network carries them
SENDER_DIGITS, SENDER_ALPHANUMERIC = 15, 11
FORMATS = ("json", "xml")
_MIME = {"json": "application/json", "xml": "application/xml"}


@dataclass(frozen=True, slots=True)
class MessageResult:
    """One number's line in a Clickatell answer."""

    to: str
    accepted: bool
    api_message_id: str = ""
    code: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    messages: tuple[MessageResult, ...] = ()
    error_code: str = ""
    error_text: str = ""


@dataclass(frozen=True, slots=True)
class Clickatell:
    base_url: str
    token: str = field(repr=False)
    format: str = "json"
    name: str = "clickatell"
    max_batch: int = MAX_TO
    supports_send_at: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/rest/message"

    def max_batch_for(self, message: Message) -> int:
        """One number per request when each recipient gets its own text."""
        return 1 if placeholders(message.body) else self.max_batch

    def headers(self) -> dict[str, str]:
        mime = _MIME[self.format]
        return {"X-Version": "1", "Authorization": f"Bearer {self.token}",
                "Content-Type": mime, "Accept": mime}

    def send_request(self, batch: Batch, message: Message) -> HttpRequest:
        if batch.size > MAX_TO:
            raise ValueError(f"Clickatell takes at most {MAX_TO} numbers per request, not {batch.size}")
        payload = build_payload(batch, message)
        body = orjson.dumps(payload) if self.format == "json" else xml_request(payload)
        return HttpRequest("POST", self.url, self.headers(), body)

    def parse_send(self, batch: Batch, response: HttpResponse) -> BatchResult:
        status = response.status
        answer = parse_answer(response)
        label = f"Clickatell {status} {answer.error_code}".rstrip()
        kw: dict[str, Any] = {"status": status, "code": answer.error_code, "text": answer.error_text}
        if status == 429:
            raise RateLimited(f"{label}: rate limited", retry_after=parse_retry_after(response.headers), **kw)
        if status >= 500:
            raise TransientError(f"{label}: server error", retry_after=parse_retry_after(response.headers), **kw)
        if status in (401, 403):
            raise CampaignRefused(f"{label}: Clickatell refused the token (check token_env and IP lockdown)",
                                  **kw)
        if status == 402:
            raise CampaignRefused(f"{label}: Clickatell says there is no credit left on the account", **kw)
        if status == 404:
            raise CampaignRefused(f"{label}: nothing at {self.url}; check the plan's base_url", **kw)
        return per_number(batch, answer, status)

    def lookup_request(self, batch: Batch, window: LookupWindow | None = None) -> HttpRequest | None:
        return None  # Clickatell cannot be asked by client reference

    def parse_lookup(self, batch: Batch, response: HttpResponse) -> Outcome | None:
        return None

    def cancel_request(self, provider_id: str) -> HttpRequest | None:
        return None

    def poll_requests(self, sent: Sequence[tuple[str, str]]) -> list[StatusPoll] | None:
        return None  # statuses arrive by callback only

    def parse_poll(self, poll: StatusPoll, response: HttpResponse) -> list[PolledStatus]:
        return []


def build_payload(batch: Batch, message: Message) -> dict[str, Any]:
    """``{"text", "to"[, "from", "callback"]}``: one text for every number of the batch."""
    texts = {render(message.body, r.params, message.defaults) for r in batch.recipients} \
        if placeholders(message.body) else {message.body}
    if len(texts) > 1:
        raise BatchRejected("Clickatell sends one text per request: a templated message needs one "
                            "number per batch (max_batch 1)")
    payload: dict[str, Any] = {"text": texts.pop(), "to": list(batch.numbers)}
    if message.sender:
        payload["from"] = message.sender
    if message.delivery_report.value != "none":
        payload["callback"] = 3  # intermediate and final statuses, to the account's callback URL
    return payload


def xml_request(payload: Mapping[str, Any]) -> bytes:
    root = ET.Element("request")
    ET.SubElement(root, "text").text = str(payload["text"])
    for number in payload["to"]:
        ET.SubElement(root, "to").text = number
    for key in ("from", "callback"):
        if key in payload:
            ET.SubElement(root, key).text = str(payload[key])
    raw: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + raw


def _is_xml(response: HttpResponse) -> bool:
    ctype = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    if "xml" in ctype.lower():
        return True
    if "json" in ctype.lower():
        return False
    return response.body.lstrip()[:1] == b"<"


def parse_answer(response: HttpResponse) -> ParsedAnswer:
    """The per-number list and the global error of an answer, read defensively."""
    if not response.body.strip():
        return ParsedAnswer()
    try:
        return _parse_xml(response.body) if _is_xml(response) else _parse_json(response.body)
    except (UnsafeXml, orjson.JSONDecodeError):
        return ParsedAnswer(error_text=response.body[:200].decode("utf-8", "replace"))


def _parse_json(body: bytes) -> ParsedAnswer:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        return ParsedAnswer()
    code, text = _error_fields(data.get("error"))
    inner = data.get("data")
    raw = inner.get("message") if isinstance(inner, dict) else None
    messages = []
    for entry in raw if isinstance(raw, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("to"), (str, int)):
            continue
        err_code, err_text = _error_fields(entry.get("error"))
        accepted = entry.get("accepted") is True or (entry.get("accepted") is None and bool(entry.get("apiMessageId")))
        messages.append(MessageResult(_digits(str(entry["to"])), accepted and not err_code,
                                      str(entry.get("apiMessageId") or ""), err_code, err_text))
    return ParsedAnswer(tuple(messages), code, text)


def _error_fields(error: Any) -> tuple[str, str]:
    if isinstance(error, dict):
        return str(error.get("code", "") or ""), str(error.get("description", "") or "")
    if isinstance(error, str):
        return "", error
    return "", ""


def _parse_xml(body: bytes) -> ParsedAnswer:
    root = parse_untrusted(body)
    messages = []
    for entry in root.iter("message"):
        to = text_of(entry, "to")
        if not to:
            continue
        err = entry.find("error")
        code = (text_of(err, "code") or "") if err is not None else ""
        text = (text_of(err, "description") or "") if err is not None else ""
        accepted_text = (text_of(entry, "accepted") or "").lower()
        api_id = text_of(entry, "apiMessageId") or ""
        accepted = accepted_text == "true" or (not accepted_text and bool(api_id))
        messages.append(MessageResult(_digits(to), accepted and not code, api_id, code, text))
    top = next((e for e in root if e.tag == "error"), None)
    code = (text_of(top, "code") or "") if top is not None else ""
    text = (text_of(top, "description") or "") if top is not None else ""
    return ParsedAnswer(tuple(messages), code, text)


def _digits(number: str) -> str:
    number = number.strip().lstrip("+")
    return number[2:] if number.startswith("00") else number


def per_number(batch: Batch, answer: ParsedAnswer, status: int) -> BatchResult:
    """Each recipient's outcome from the listed numbers; the rest by the status."""
    listed = {m.to: m for m in answer.messages}
    if status in (200, 201, 202):
        rest = Outcome(Status.ACCEPTED)
    elif status == 207:
        rest = Outcome(Status.UNKNOWN, code="207", text="not listed in a mixed answer; it may have been sent")
    else:
        rest = Outcome(Status.FAILED, code=answer.error_code or str(status),
                       text=answer.error_text or _STATUS_TEXT.get(status, "refused"))
    outcomes: dict[str, Outcome] = {}
    for r in batch.recipients:
        m = listed.get(r.msisdn)
        if m is None:
            continue
        if m.accepted:
            outcomes[r.msisdn] = Outcome(Status.ACCEPTED, provider_id=m.api_message_id)
        else:
            outcomes[r.msisdn] = Outcome(Status.FAILED, code=m.code or str(status), text=m.description)
    return BatchResult(rest, outcomes or None)


_STATUS_TEXT = {400: "bad request", 410: "number blocked or unroutable"}


# -- the plan's keys, the factory and callbacks (see ``registry``) -----------
KEYS = frozenset({"token_env", "format", "callback_secret_env"})
DEFAULT_URL = "https://api.clickatell.com"


def base_url(options: Mapping[str, Any], given: str | None, where: str, source: str) -> str:
    return given or DEFAULT_URL


def build(plan: PlanConfig, env: Mapping[str, str]) -> Clickatell:
    fmt = plan.options.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"plans.{plan.name}.format must be \"json\" or \"xml\", not {fmt!r}")
    token = secret_from_env(env, plan.options.get("token_env"), plan)
    return Clickatell(plan.base_url, token, fmt)


def callback_check(plan: PlanConfig, env: Mapping[str, str]) -> CallbackCheck | None:
    """With ``callback_secret_env``: HTTP Basic whose password is that secret
    (Clickatell's "include basic HTTP authentication" option); without it, unsigned."""
    var = plan.options.get("callback_secret_env")
    if not var:
        return None
    shared = secret_from_env(env, var, plan, "callback secret")

    def basic(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        return Verified() if verify_basic_password(headers, shared) else None  # the same on every request

    return basic


#: no ``max_expiry``: the codec sends no expiry, so ``--expire-at`` is refused rather than ignored
SPEC = ProviderSpec("clickatell", KEYS, build, base_url, parse_callback, callback_check, max_batch=MAX_TO,
                    sender_problem=lambda s: gsm_sender_problem(s, SENDER_DIGITS, SENDER_ALPHANUMERIC))
