"""Who may call back: one verifier per plan, built from the config.

- ``sinch_classic``: always the signed-request scheme with the plan's key and
  secret (Sinch signs Classic callbacks that way), over the path the
  listener sees.
- ``sinch_xms``: with ``callback_secret_env``, the shared-secret HMAC headers
  (``signing.verify_webhook_hmac``); without it, unsigned callbacks are taken.
- ``clickatell``: with ``callback_secret_env``, HTTP Basic whose password is
  that secret (Clickatell's "include basic HTTP authentication" option);
  without it, unsigned.

Secrets are read from the environment once, when the listener starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bulksend.config import Config, PlanConfig, secret_from_env
from bulksend.providers.signing import verify_basic_password, verify_classic, verify_webhook_hmac

#: (method, path, body, headers, now) -> verified?
Check = Callable[[str, str, bytes, Mapping[str, str], float], bool]


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

        def classic(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> bool:
            return verify_classic(method, path, body, headers, key, secret, now)

        return PlanHook(plan.name, plan.provider, classic)
    var = opts.get("callback_secret_env")
    if not var:
        return PlanHook(plan.name, plan.provider)
    shared = secret_from_env(env, var, plan, "callback secret")
    if plan.provider == "clickatell":
        def basic(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> bool:
            return verify_basic_password(headers, shared)

        return PlanHook(plan.name, plan.provider, basic)

    def hmac_check(method: str, path: str, body: bytes, headers: Mapping[str, str], now: float) -> bool:
        return verify_webhook_hmac(shared, body, headers, now)

    return PlanHook(plan.name, plan.provider, hmac_check)


def hooks_for(config: Config, env: Mapping[str, str]) -> dict[str, PlanHook]:
    return {name: hook_for(plan, env) for name, plan in config.plans.items()}
