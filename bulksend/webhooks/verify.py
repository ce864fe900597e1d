"""Who may call back: one verifier per plan, built from the config.

Each provider says how its callbacks are verified (its module's
``callback_check``, found through the registry). Today:

- ``sinch_classic``: always the signed-request scheme with the plan's key and
  secret (Sinch signs Classic callbacks that way), over the path the
  listener sees.
- ``sinch_xms``: with ``callback_secret_env``, the shared-secret HMAC headers
  (``signing.verify_webhook_hmac``); without it, unsigned callbacks are taken.
- ``clickatell``: with ``callback_secret_env``, HTTP Basic whose password is
  that secret (Clickatell's "include basic HTTP authentication" option);
  without it, unsigned.

A check returns ``Verified`` or None (the receiver answers 401). Every
check is ``guarded`` (``ProviderSpec.verifier``): header values are the
caller's text, so only short printable-ASCII values reach the signature
code, and anything it cannot parse (a 400-digit timestamp, bad Base64, bytes
that are not UTF-8) is a failed check, never an exception. A signed scheme's
``Verified`` carries the signature and how long it stays fresh, for replay
protection (``replay``); HTTP Basic repeats the same credentials on every
request, so it carries none.

Secrets are read from the environment once, when the listener starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bulksend.config import Config, PlanConfig
from bulksend.providers.base import CallbackCheck, Verified
from bulksend.providers.registry import PROVIDERS

__all__ = ["Check", "PlanHook", "Verified", "hook_for", "hooks_for"]

#: (method, path, body, headers, now) -> ``Verified``, or None when refused
Check = CallbackCheck


@dataclass(frozen=True, slots=True)
class PlanHook:
    plan: str
    provider: str
    check: Check | None = field(default=None, repr=False)

    @property
    def signed(self) -> bool:
        return self.check is not None


def hook_for(plan: PlanConfig, env: Mapping[str, str]) -> PlanHook:
    return PlanHook(plan.name, plan.provider, PROVIDERS[plan.provider].verifier(plan, env))


def hooks_for(config: Config, env: Mapping[str, str]) -> dict[str, PlanHook]:
    return {name: hook_for(plan, env) for name, plan in config.plans.items()}
