"""Provider codecs (no I/O), the registry that names them, and the factory that builds one for a plan."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from bulksend.config import PlanConfig
from bulksend.errors import ConfigError
from bulksend.providers.base import Provider, ProviderSpec
from bulksend.providers.classic import SinchClassic
from bulksend.providers.clickatell import Clickatell
from bulksend.providers.registry import PROVIDERS, load_config, parse_config
from bulksend.providers.xms import SinchXms

__all__ = ["BODY_LIMITS", "FACTORIES", "PROVIDERS", "Clickatell", "Provider", "ProviderSpec", "SinchClassic",
           "SinchXms", "account_of", "body_limit", "build_provider", "load_config", "parse_config"]

#: provider name -> factory(plan, environment) -> Provider
FACTORIES: dict[str, Callable[[PlanConfig, Mapping[str, str]], Provider]] = {
    name: spec.build for name, spec in PROVIDERS.items()}

#: the longest body (in characters) each provider accepts, where it documents one
BODY_LIMITS: dict[str, int] = {
    name: spec.body_limit for name, spec in PROVIDERS.items() if spec.body_limit is not None}


def account_of(plan: PlanConfig) -> str:
    """The plan's non-secret account id (the XMS ``service_plan_id``), or "" if its provider has none."""
    spec = PROVIDERS.get(plan.provider)
    return spec.account_of(plan) if spec is not None else ""


def body_limit(provider: str) -> int | None:
    spec = PROVIDERS.get(provider)
    return spec.body_limit if spec is not None else None


def build_provider(plan: PlanConfig, env: Mapping[str, str] | None = None) -> Provider:
    """The codec for ``plan``, with its secrets read from ``env``."""
    factory = FACTORIES.get(plan.provider)  # the registry's factories (a test may swap one)
    if factory is None:
        raise ConfigError(f"plans.{plan.name}.provider: {plan.provider!r} is not supported yet")
    provider = factory(plan, os.environ if env is None else env)
    if plan.max_batch > provider.max_batch:
        raise ConfigError(
            f"plans.{plan.name}.max_batch: {plan.max_batch} is above what {plan.provider} "
            f"allows per request ({provider.max_batch})"
        )
    return provider
