"""Who may call back: one verifier per plan, built from the config.

- ``sinch_classic``: always the signed-request scheme with the plan's key and
  secret (Sinch signs Classic callbacks that way), over the path the
  listener sees.
- ``sinch_xms``: with ``callback_secret_env``, the shared-secret HMAC headers
  (``signing.verify_webhook_hmac``); without it, unsigned callbacks are taken.
- ``clickatell``: with ``callback_secret_env``, HTTP Basic whose password is
  that secret (Clickatell's "include basic HTTP authentication" option);
  without it, unsigned.

A check returns ``Verified`` or None (the receiver answers 401). Header values
are attacker-controlled: only short printable-ASCII values reach the
signature code, and anything it cannot parse (a 400-digit timestamp, bad
Base64, bytes that are not UTF-8) is a failed check, never an exception.
A signed scheme's ``Verified`` carries the signature and how long it stays
fresh, for replay protection (``replay``); HTTP Basic repeats the same
credentials on every request, so it carries none.

Secrets are read from the environment once, when the listener starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bulksend.config import Config, PlanConfig, secret_from_env
from bulksend.providers.signing import (
    MAX_SKEW, SIG, SIG_NONCE, SIG_TIMESTAMP, parse_timestamp, verify_basic_password, verify_classic,
    verify_webhook_hmac,
)


@dataclass(frozen=True, slots=True)
class Verified:
    """A request its plan accepts. ``signature`` is empty for schemes that cannot be replay-checked."""

    signature: str = ""
    fresh_until: float = 0.0


#: (method, path, body, headers, now) -> Verified, or None when refused
Check = Callable[[str, str, bytes, Mapping[str, str], float], "Verified | None"]

#: the longest value each header we read may have (a longer one fails the check)
_LIMITS = {"authorization": 1024, "x-timestamp": 40, "content-type": 256,
           SIG_TIMESTAMP: 12, SIG_NONCE: 256, SIG: 256}
#: hostile input a signature routine may raise on; all of them mean "not verified"
_UNPARSABLE = (ValueError, OverflowError, UnicodeError, TypeError)


def clean_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers checks read, only when short printable ASCII (``header: value`` lower-cased keys)."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        limit = _LIMITS.get(key)
        if limit is None or not isinstance(value, str) or len(value) > limit:
            continue
        if value.isascii() and value.isprintable():
            found[key] = value
    return found


def hook_signature_hmac(shared: str) -> Check:
    def check(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        sent = clean_headers(headers)
        stamp, signature = sent.get(SIG_TIMESTAMP, ""), sent.get(SIG, "")
        if not stamp.isdigit() or not signature or not sent.get(SIG_NONCE):
            return None
        try:
            ok = verify_webhook_hmac(shared, body, sent, now)
        except _UNPARSABLE:
            return None
        return Verified(signature, int(stamp) + MAX_SKEW) if ok else None

    return check


def hook_classic(key: str, secret: str) -> Check:
    def check(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        sent = clean_headers(headers)
        stamp = sent.get("x-timestamp", "")
        try:
            when = parse_timestamp(stamp) if stamp else None
            ok = when is not None and verify_classic(method, path, body, sent, key, secret, now)
        except _UNPARSABLE:
            return None
        if not ok or when is None:
            return None
        return Verified(sent["authorization"].rpartition(":")[2], when + MAX_SKEW)

    return check


def hook_basic(password: str) -> Check:
    def check(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> Verified | None:
        try:
            return Verified() if verify_basic_password(clean_headers(headers), password) else None
        except _UNPARSABLE:
            return None

    return check


@dataclass(frozen=True, slots=True)
class PlanHook:
    plan: str
    provider: str
    check: Check | None = field(default=None, repr=False)

    @property
    def signed(self) -> bool:
        return self.check is not None


def hook_for(plan: PlanConfig, env: Mapping[str, str]) -> PlanHook:
    opts = plan.options
    if plan.provider == "sinch_classic":
        key = secret_from_env(env, opts.get("key_env"), plan, "key")
        secret = secret_from_env(env, opts.get("secret_env"), plan, "secret")
        return PlanHook(plan.name, plan.provider, hook_classic(key, secret))
    var = opts.get("callback_secret_env")
    if not var:
        return PlanHook(plan.name, plan.provider)
    shared = secret_from_env(env, var, plan, "callback secret")
    if plan.provider == "clickatell":
        return PlanHook(plan.name, plan.provider, hook_basic(shared))
    return PlanHook(plan.name, plan.provider, hook_signature_hmac(shared))


def hooks_for(config: Config, env: Mapping[str, str]) -> dict[str, PlanHook]:
    return {name: hook_for(plan, env) for name, plan in config.plans.items()}
