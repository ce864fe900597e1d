"""Provider codecs (no I/O) and the factory that builds one for a plan."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from bulksend.config import PlanConfig, secret_from_env
from bulksend.errors import ConfigError
from bulksend.providers.base import Provider
from bulksend.providers.xms import SinchXms

__all__ = ["Provider", "SinchXms", "build_provider", "FACTORIES"]


def _sinch_xms(plan: PlanConfig, env: Mapping[str, str]) -> Provider:
    plan_id = plan.options.get("service_plan_id")
    if not isinstance(plan_id, str) or not plan_id:
        raise ConfigError(f"plans.{plan.name}.service_plan_id is required for sinch_xms")
    token = secret_from_env(env, plan.options.get("token_env"), plan)
    return SinchXms(plan.base_url, plan_id, token)


#: provider name -> factory(plan, environment) -> Provider
FACTORIES: dict[str, Callable[[PlanConfig, Mapping[str, str]], Provider]] = {
    "sinch_xms": _sinch_xms,
}


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
