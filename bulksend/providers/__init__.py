"""Provider codecs (no I/O) and the factory that builds one for a plan."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from bulksend.config import PlanConfig, secret_from_env
from bulksend.errors import ConfigError
from bulksend.providers.base import Provider
from bulksend.providers.classic import SinchClassic
from bulksend.providers.clickatell import Clickatell
from bulksend.providers.xms import SinchXms

__all__ = ["BODY_LIMITS", "FACTORIES", "Clickatell", "Provider", "SinchClassic", "SinchXms", "body_limit", "build_provider"]


def _sinch_xms(plan: PlanConfig, env: Mapping[str, str]) -> Provider:
    plan_id = plan.options.get("service_plan_id")
    if not isinstance(plan_id, str) or not plan_id:
        raise ConfigError(f"plans.{plan.name}.service_plan_id is required for sinch_xms")
    token = secret_from_env(env, plan.options.get("token_env"), plan)
    return SinchXms(plan.base_url, plan_id, token)


def _clickatell(plan: PlanConfig, env: Mapping[str, str]) -> Provider:
    fmt = plan.options.get("format", "json")
    if fmt not in ("json", "xml"):
        raise ConfigError(f"plans.{plan.name}.format must be \"json\" or \"xml\", not {fmt!r}")
    token = secret_from_env(env, plan.options.get("token_env"), plan)
    return Clickatell(plan.base_url, token, fmt)


def _sinch_classic(plan: PlanConfig, env: Mapping[str, str]) -> Provider:
    auth = plan.options.get("auth", "signed")
    if auth not in ("basic", "signed"):
        raise ConfigError(f"plans.{plan.name}.auth must be \"basic\" or \"signed\", not {auth!r}")
    key = secret_from_env(env, plan.options.get("key_env"), plan, what="key")
    secret = secret_from_env(env, plan.options.get("secret_env"), plan, what="secret")
    try:
        return SinchClassic(plan.base_url, key, secret, auth)
    except ValueError as exc:  # the secret cannot sign (not Base64)
        raise ConfigError(f"plans.{plan.name}: {exc} (read from {plan.options.get('secret_env')})") from None


#: provider name -> factory(plan, environment) -> Provider
FACTORIES: dict[str, Callable[[PlanConfig, Mapping[str, str]], Provider]] = {
    "sinch_xms": _sinch_xms,
    "clickatell": _clickatell,
    "sinch_classic": _sinch_classic,
}


#: the longest body (in characters) each provider accepts, where it documents one
BODY_LIMITS: dict[str, int] = {"sinch_xms": 2000}


def body_limit(provider: str) -> int | None:
    return BODY_LIMITS.get(provider)


def build_provider(plan: PlanConfig, env: Mapping[str, str] | None = None) -> Provider:
    """The codec for ``plan``, with its secrets read from ``env``."""
    try:
        factory = FACTORIES[plan.provider]
    except KeyError:
        raise ConfigError(f"plans.{plan.name}.provider: {plan.provider!r} is not supported yet") from None
    provider = factory(plan, os.environ if env is None else env)
    if plan.max_batch > provider.max_batch:
        raise ConfigError(
            f"plans.{plan.name}.max_batch: {plan.max_batch} is above what {plan.provider} "
            f"allows per request ({provider.max_batch})"
        )
    return provider
