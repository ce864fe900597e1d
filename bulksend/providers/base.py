"""What a provider is: a codec between batches and HTTP, with no I/O.

A provider turns a batch into an ``HttpRequest`` and an ``HttpResponse`` into
per-recipient outcomes. It never opens a socket: the engine owns the one
``aiohttp.ClientSession``, so adding a provider never touches network code.

``parse_send`` returns a ``BatchResult`` for any answer that settles the
batch (accepted, or rejected for good) and raises for the rest:
``TransientError``/``RateLimited`` (send again), ``CampaignRefused`` (stop).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import orjson

from bulksend.config import PlanConfig
from bulksend.models import (
    Batch,
    BatchResult,
    HttpRequest,
    HttpResponse,
    Message,
    Numbers,
    Outcome,
)
from bulksend.providers.callbacks import CallbackParser, PolledStatus, StatusPoll
from bulksend.providers.signing import clean_headers


@dataclass(frozen=True, slots=True)
class LookupWindow:
    """The span (epoch seconds, UTC) a lookup asks the provider to search."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.start <= self.end:
            raise ValueError(f"a lookup window must start before it ends ({self.start} > {self.end})")


class Provider(Protocol):
    """The codec every provider implements."""

    @property
    def name(self) -> str: ...

    @property
    def max_batch(self) -> int:
        """The most recipients one request may carry."""
        ...

    @property
    def supports_send_at(self) -> bool:
        """True when the provider itself holds a message until ``send_at``."""
        ...

    def max_batch_for(self, message: Message) -> int:
        """Recipients per request for this message: ``max_batch``, unless the
        provider cannot template and each recipient needs its own text."""
        ...

    def send_request(self, batch: Batch, message: Message) -> HttpRequest: ...

    def parse_send(self, batch: Batch, response: HttpResponse) -> BatchResult: ...

    def lookup_request(self, batch: Batch, window: LookupWindow | None = None) -> HttpRequest | None:
        """A request that finds out whether ``batch`` was accepted, or None
        when this provider cannot be asked. ``window``: when the batch may have
        reached the provider (a provider that lists only recent batches by
        default is asked over that span); None: the provider's default span."""
        ...

    def parse_lookup(self, batch: Batch, response: HttpResponse) -> Outcome | None:
        """The accepted outcome if the provider has the batch, None if not."""
        ...

    def cancel_request(self, provider_id: str) -> HttpRequest | None: ...

    def poll_requests(self, sent: Sequence[tuple[str, str]]) -> list[StatusPoll] | None:
        """Requests asking the delivery status of ``(provider_id, msisdn)`` pairs,
        or None when this provider reports only by callback."""
        ...

    def parse_poll(self, poll: StatusPoll, response: HttpResponse) -> list[PolledStatus]:
        """The statuses an answer to ``poll`` gives for the numbers it asked about."""
        ...


@dataclass(frozen=True, slots=True)
class Verified:
    """A callback its plan's check accepted.

    ``signature`` identifies a signed request and ``fresh_until`` (epoch
    seconds) is when its timestamp leaves the skew window, so a receiver can
    refuse the same request replayed until then. Both are empty for schemes
    that repeat the same credentials on every request (HTTP Basic).
    """

    signature: str = ""
    fresh_until: float = 0.0


#: (method, path, body, headers, now) -> ``Verified``, or None when refused
CallbackCheck = Callable[[str, str, bytes, Mapping[str, str], float], Verified | None]

#: what a signature routine may raise on hostile input; every one means "not verified"
UNPARSABLE = (ValueError, OverflowError, UnicodeError, TypeError)


def guarded(check: CallbackCheck) -> CallbackCheck:
    """``check`` made safe for headers from anyone: it sees only ``clean_headers`` (short
    printable ASCII), and anything it cannot parse (a 400-digit timestamp, bad Base64,
    bytes that are not UTF-8) is a refusal, never an exception."""
    def safe(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        try:
            return check(method, path, body, clean_headers(headers), now)
        except UNPARSABLE:
            return None

    return safe


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything bulksend knows about one provider, for the registry.

    Each provider module defines one (``SPEC``); ``providers.registry`` maps
    names to them. Nothing outside ``providers/`` names a provider.
    """

    name: str
    #: the plan keys this provider adds to the common ones
    keys: frozenset[str]
    #: (plan, environment) -> the codec, its secrets read (``ConfigError`` if a key is wrong)
    build: Callable[[PlanConfig, Mapping[str, str]], Provider]
    #: (the plan's provider keys, the base_url it gave or None, where, source) -> the base URL
    base_url: Callable[[Mapping[str, Any], str | None, str, str], str]
    #: a callback body -> its statuses and inbound messages
    parse_callback: CallbackParser
    #: (plan, environment) -> the check callbacks must pass, or None to take them unsigned
    callback_check: Callable[[PlanConfig, Mapping[str, str]], CallbackCheck | None]
    #: the longest body (characters) the provider accepts, where it documents one
    body_limit: int | None = None
    #: the plan key naming its (non-secret) account, kept with a journaled campaign
    account_key: str | None = None
    #: the most recipients one request may carry (None: no limit bulksend knows)
    max_batch: int | None = None
    #: a sender (``from``) -> why the provider would refuse it, or None
    sender_problem: Callable[[str], str | None] | None = None
    #: how long after ``send_at`` (or now) a message may be kept; None: no ``expire_at`` at all
    max_expiry: timedelta | None = None
    #: how far back (seconds) its lookups can see a batch; None: no limit
    lookback_s: float | None = None

    def verifier(self, plan: PlanConfig, env: Mapping[str, str]) -> CallbackCheck | None:
        """The check ``plan``'s callbacks must pass, ``guarded``; None to take them unsigned."""
        check = self.callback_check(plan, env)
        return None if check is None else guarded(check)

    def account_of(self, plan: PlanConfig) -> str:
        value = plan.options.get(self.account_key) if self.account_key else None
        return value if isinstance(value, str) else ""


_DIGITS = re.compile(r"\+?[0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9 ]+")


def gsm_sender_problem(sender: str, digits: int = 15, alphanumeric: int = 11) -> str | None:
    """Why an SMS network would refuse ``sender``, or None: a number of up to
    ``digits`` digits (a leading ``+`` allowed), or up to ``alphanumeric``
    letters, digits and spaces with at least one letter (what the GSM
    originator address holds; providers pass their own limits)."""
    if _DIGITS.fullmatch(sender):
        n = len(sender.lstrip("+"))
        return None if n <= digits else f"a number of {n} digits (at most {digits})"
    if not _ALNUM.fullmatch(sender):
        return f"neither a number nor alphanumeric (letters, digits and spaces, at most {alphanumeric})"
    if len(sender) > alphanumeric:
        return f"{len(sender)} characters (an alphanumeric sender has at most {alphanumeric})"
    return None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta or HTTP date)."""
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def json_error(body: bytes) -> tuple[str, str]:
    """``(code, text)`` from a ``{"code": ..., "text": ...}`` body, tolerantly."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:200].decode("utf-8", "replace")
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("code", "")), str(data.get("text", ""))


def can_look_up(provider: Provider) -> bool:
    """Whether the provider can be asked if it took a batch (codecs are pure: asking costs nothing)."""
    return provider.lookup_request(Batch("probe", 0, Numbers(["46700000000"]))) is not None
