"""The Sinch SMS REST API ("XMS") batch codec."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import orjson

from bulksend.config import PlanConfig, secret_from_env
from bulksend.core.templates import placeholders
from bulksend.errors import CampaignRefused, ConfigError, RateLimited, TransientError
from bulksend.models import (
    Batch,
    BatchResult,
    DeliveryReport,
    HttpRequest,
    HttpResponse,
    Message,
    Numbers,
    Outcome,
    Status,
)
from bulksend.providers.base import (
    CallbackCheck,
    LookupWindow,
    ProviderSpec,
    Verified,
    gsm_sender_problem,
    json_error,
    parse_retry_after,
)
from bulksend.providers.callbacks import Malformed, PolledStatus, StatusPoll
from bulksend.providers.signing import (
    MAX_SKEW,
    SIG,
    SIG_NONCE,
    SIG_TIMESTAMP,
    header,
    verify_webhook_hmac,
)
from bulksend.providers.xms_reports import parse_callback, parse_report

REGIONS = ("us", "eu", "au", "br", "ca")
MAX_BODY_CHARS = 2000
#: how far back Sinch lists batches: a lookup's ``start_date`` may be at most 14 days ago
LOOKBACK_S = 14 * 86_400.0
MAX_TO = 1000
#: ``expire_at`` defaults to ``send_at`` + 3 days, which is also its cap
MAX_EXPIRY = timedelta(days=3)
#: a sender: up to 15 digits (a leading + allowed) or up to 11 alphanumeric characters
SENDER_DIGITS, SENDER_ALPHANUMERIC = 15, 11
# 403 codes that mean the account, not the batch, is the problem.
_ACCOUNT_CODES = frozenset({"blocked_account"})


def iso_ms(epoch: float) -> str:
    """Sinch's time format, ``YYYY-MM-DDThh:mm:ss.SSSZ`` (UTC)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def region_url(region: str) -> str:
    if region not in REGIONS:
        raise ValueError(f"unknown Sinch region {region!r} (one of {', '.join(REGIONS)})")
    return f"https://{region}.sms.api.sinch.com"


@dataclass(frozen=True, slots=True)
class SinchXms:
    base_url: str
    service_plan_id: str
    token: str = field(repr=False)
    name: str = "sinch_xms"
    max_batch: int = MAX_TO
    supports_send_at: bool = True

    @property
    def _batches_url(self) -> str:
        return _batches_url(self.base_url, self.service_plan_id)

    def _headers(self) -> Mapping[str, str]:
        return _json_headers(self.token)

    def max_batch_for(self, message: Message) -> int:
        return self.max_batch  # XMS templates server side via "parameters"

    def send_request(self, batch: Batch, message: Message) -> HttpRequest:
        return HttpRequest("POST", self._batches_url, self._headers(), encode_payload(batch, message))

    def parse_send(self, batch: Batch, response: HttpResponse) -> BatchResult:
        status = response.status
        if 200 <= status < 300:
            return BatchResult(Outcome(Status.ACCEPTED, provider_id=_batch_id(response.body)))
        code, text = json_error(response.body)
        if status == 429:
            raise RateLimited(
                f"Sinch XMS 429 {code or 'too many requests'}",
                retry_after=parse_retry_after(response.headers),
                status=status, code=code, text=text,
            )
        if status >= 500:
            raise TransientError(
                f"Sinch XMS server error {status}",
                retry_after=parse_retry_after(response.headers),
                status=status, code=code, text=text,
            )
        if status == 401 or code in _ACCOUNT_CODES:
            raise CampaignRefused(
                f"Sinch XMS refused the campaign ({status} {code or 'unauthorized'}): "
                "check the plan's token and service_plan_id",
                status=status, code=code, text=text,
            )
        if status == 404:
            raise CampaignRefused(
                f"Sinch XMS answered 404 for {self._batches_url}: check service_plan_id and region",
                status=status, code=code, text=text,
            )
        return BatchResult(Outcome(Status.FAILED, code=code or str(status), text=text))

    def lookup_request(self, batch: Batch, window: LookupWindow | None = None) -> HttpRequest:
        """List batches by ``client_reference``. Sinch lists only batches created
        in ``start_date``..``end_date`` (default: the last 24 hours, and never more
        than ``LOOKBACK_S`` back), so a lookup for an older batch must say when."""
        ref = quote(batch.client_reference, safe="")
        url = f"{self._batches_url}?client_reference={ref}&page=0&page_size=100"
        if window is not None:
            url += f"&start_date={quote(iso_ms(window.start))}&end_date={quote(iso_ms(window.end))}"
        return HttpRequest("GET", url, {"Authorization": f"Bearer {self.token}"})

    def parse_lookup(self, batch: Batch, response: HttpResponse) -> Outcome | None:
        if response.status != 200:
            # Cannot tell; the caller treats it like any transient answer.
            self.parse_send(batch, response)
            raise TransientError(f"Sinch XMS lookup answered {response.status}", status=response.status)
        data = orjson.loads(response.body)
        for found in data.get("batches", ()):
            if found.get("client_reference") == batch.client_reference and not found.get("canceled"):
                return Outcome(Status.ACCEPTED, provider_id=str(found.get("id", "")))
        return None

    def cancel_request(self, provider_id: str) -> HttpRequest:
        url = f"{self._batches_url}/{quote(provider_id, safe='')}"
        return HttpRequest("DELETE", url, {"Authorization": f"Bearer {self.token}"})

    # -- delivery status (polling) -------------------------------------------
    def poll_requests(self, sent: Sequence[tuple[str, str]]) -> list[StatusPoll]:
        """One full delivery report per batch: it lists every recipient under its status."""
        wanted: dict[str, list[str]] = {}
        for batch_id, msisdn in sent:
            wanted.setdefault(batch_id, []).append(msisdn)
        return [StatusPoll(self.report_request(batch_id), batch_id, tuple(numbers))
                for batch_id, numbers in wanted.items()]

    def report_request(self, batch_id: str) -> HttpRequest:
        url = f"{self._batches_url}/{quote(batch_id, safe='')}/delivery_report?type=full"
        return HttpRequest("GET", url, {"Authorization": f"Bearer {self.token}"})

    def parse_poll(self, poll: StatusPoll, response: HttpResponse) -> list[PolledStatus]:
        """The asked-for numbers' lines of a full report; it has no per-recipient time."""
        if response.status != 200:
            raise TransientError(f"Sinch XMS delivery report answered {response.status}", status=response.status)
        try:
            events = parse_report(response.body)
        except Malformed as exc:
            raise TransientError(f"Sinch XMS delivery report unreadable: {exc}") from None
        asked = set(poll.msisdns)
        return [PolledStatus(poll.provider_id, e.ref.msisdn, e.status, e.provider_status, e.code)
                for e in events if e.ref.msisdn in asked]


def build_payload(batch: Batch, message: Message) -> dict[str, object]:
    """The JSON body of a send: the documented fields a campaign can set."""
    payload: dict[str, object] = {
        "to": list(batch.numbers),
        "client_reference": batch.client_reference,
    }
    fixed, keys, _json = _fixed_fields(message)
    payload.update(fixed)
    if keys:
        payload["parameters"] = _parameters(batch, message, keys)
    return payload


@lru_cache(maxsize=32)
def _batches_url(base_url: str, service_plan_id: str) -> str:
    """Made once a plan: quoting the plan id was 1 % of a send at one recipient a request."""
    return f"{base_url.rstrip('/')}/xms/v1/{quote(service_plan_id, safe='')}/batches"


@lru_cache(maxsize=8)
def _json_headers(token: str) -> Mapping[str, str]:
    """A send's headers, made once a token (read-only: aiohttp copies them)."""
    return MappingProxyType({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def encode_payload(batch: Batch, message: Message) -> bytes:
    """``build_payload`` as JSON. The ``to`` list of numbers read from a clean
    block (checked digits) is written straight from their text: no string
    per number, nothing for the encoder to look at."""
    recipients = batch.recipients
    fixed, keys, tail = _fixed_fields(message)
    if keys or not isinstance(recipients, Numbers) or recipients.clean_text is None:
        return orjson.dumps(build_payload(batch, message))
    return b"".join((b'{"to":["', recipients.clean_text.replace("\n", '","').encode(), b'"],"client_reference":',
                     orjson.dumps(batch.client_reference), b",", tail))


#: what every batch of a message says the same, its template keys, and that part as JSON
#: (without its opening brace)
Fixed = tuple[dict[str, object], tuple[str, ...], bytes]


def _fixed_fields(message: Message) -> Fixed:
    """What every batch of a message says the same, and the template keys of its
    body: worked out once a message (``defaults`` is not sent, and not hashable).
    A campaign sends one message: the last one is kept by identity, which is
    cheaper than hashing its fields for every request."""
    global _last_fixed
    last = _last_fixed
    if last is not None and last[0] is message:
        return last[1]
    found = _fixed(message.body, message.sender, message.delivery_report, message.send_at, message.expire_at,
                   message.callback_url, message.max_parts)
    _last_fixed = (message, found)
    return found


_last_fixed: tuple[Message, Fixed] | None = None


@lru_cache(maxsize=64)
def _fixed(body: str, sender: str | None, delivery_report: DeliveryReport, send_at: str | None,
           expire_at: str | None, callback_url: str | None, max_parts: int | None,
           ) -> Fixed:
    fixed: dict[str, object] = {"body": body}
    optional = {
        "from": sender,
        "send_at": send_at,
        "expire_at": expire_at,
        "callback_url": callback_url,
        "max_number_of_message_parts": max_parts,
    }
    fixed.update({k: v for k, v in optional.items() if v is not None})
    if delivery_report.value != "none":
        fixed["delivery_report"] = delivery_report.value
    return fixed, placeholders(body), orjson.dumps(fixed)[1:]


def _parameters(batch: Batch, message: Message, keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``{key: {msisdn: value, "default": value}}``: one request, many bodies."""
    out: dict[str, dict[str, str]] = {}
    for key in keys:
        values = {
            r.msisdn: r.params[key] for r in batch.recipients if r.params and r.params.get(key)
        }
        default = message.defaults.get(key)
        if default is not None:
            values["default"] = default
        out[key] = values
    return out


_LEADING_ID = re.compile(rb'\{\s*"id"\s*:\s*"([^"\\]*)"')


def _batch_id(body: bytes) -> str:
    """The batch id of a create answer. The answer echoes the whole batch (its
    ``to`` list too), and Sinch puts ``id`` first: read it off the front, and
    parse the whole body only when it is not there."""
    leading = _LEADING_ID.match(body)
    if leading is not None:
        return leading.group(1).decode()
    try:
        return str(orjson.loads(body).get("id", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


# -- the plan's keys, the factory and callbacks (see ``registry``) -----------
KEYS = frozenset({"service_plan_id", "region", "token_env", "callback_secret_env"})


def base_url(options: Mapping[str, Any], given: str | None, where: str, source: str) -> str:
    """``base_url`` or ``region`` (``us`` by default), not both."""
    region = options.get("region")
    if region is not None and not isinstance(region, str):
        raise ConfigError(f"{source}: {where}.region must be str, not {region!r}")
    if given and region:
        raise ConfigError(f"{source}: {where}: give base_url or region, not both")
    if given:
        return given
    try:
        return region_url(region or "us")
    except ValueError as exc:
        raise ConfigError(f"{source}: {where}.region: {exc}") from None


def build(plan: PlanConfig, env: Mapping[str, str]) -> SinchXms:
    plan_id = plan.options.get("service_plan_id")
    if not isinstance(plan_id, str) or not plan_id:
        raise ConfigError(f"plans.{plan.name}.service_plan_id is required for sinch_xms")
    token = secret_from_env(env, plan.options.get("token_env"), plan)
    return SinchXms(plan.base_url, plan_id, token)


def callback_check(plan: PlanConfig, env: Mapping[str, str]) -> CallbackCheck | None:
    """With ``callback_secret_env``, the shared-secret HMAC headers; without it, unsigned.
    A signature stays fresh until its timestamp leaves the skew window."""
    var = plan.options.get("callback_secret_env")
    if not var:
        return None
    shared = secret_from_env(env, var, plan, "callback secret")

    def hmac_check(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        stamp, signature = header(headers, SIG_TIMESTAMP) or "", header(headers, SIG) or ""
        if not (stamp.isascii() and stamp.isdigit()) or not signature or not header(headers, SIG_NONCE):
            return None
        if not verify_webhook_hmac(shared, body, headers, now):
            return None
        return Verified(signature, int(stamp) + MAX_SKEW)

    return hmac_check


SPEC = ProviderSpec("sinch_xms", KEYS, build, base_url, lambda body, ctype, query: parse_callback(body),
                    callback_check, body_limit=MAX_BODY_CHARS, account_key="service_plan_id", lookback_s=LOOKBACK_S,
                    max_batch=MAX_TO, sender_problem=lambda s: gsm_sender_problem(s, SENDER_DIGITS, SENDER_ALPHANUMERIC),
                    max_expiry=MAX_EXPIRY)
