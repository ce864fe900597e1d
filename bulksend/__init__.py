"""bulksend: SMS campaigns at the provider's rate, every recipient exactly once.

What a user may import is listed in ``__all__``; everything else is internal.

The names are loaded on first use (PEP 562): ``import bulksend`` alone, or a
command such as ``bulksend count`` that needs only the pure core, does not pay
for aiohttp, numpy and the engine (~0.4 s of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulksend.api import build_spec, send, send_campaign
    from bulksend.config import Config, PlanConfig, RetryConfig
    from bulksend.engine import CampaignRun, CampaignSpec, CampaignSummary, Engine, Ledger, MemoryLedger
    from bulksend.errors import (
        AmbiguousOutcome,
        BatchRejected,
        BulksendError,
        CampaignRefused,
        ConfigError,
        InputError,
        ProviderError,
        RateLimited,
        RecipientError,
        TemplateError,
        TransientError,
    )
    from bulksend.models import Batch, BatchResult, DeliveryReport, Message, Outcome, Recipient, Status
    from bulksend.providers import load_config, parse_config
    from bulksend.lists.sources import RecipientSource

__version__ = "0.1.0"

#: where each public name lives
_HOMES = {
    "bulksend.api": ("build_spec", "send", "send_campaign"),
    "bulksend.config": ("Config", "PlanConfig", "RetryConfig"),
    # the config readers with every provider's rules (``bulksend.providers.registry``)
    "bulksend.providers": ("load_config", "parse_config"),
    "bulksend.engine": ("CampaignRun", "CampaignSpec", "CampaignSummary", "Engine", "Ledger", "MemoryLedger"),
    "bulksend.errors": ("AmbiguousOutcome", "BatchRejected", "BulksendError", "CampaignRefused", "ConfigError",
                        "InputError", "ProviderError", "RateLimited", "RecipientError", "TemplateError",
                        "TransientError"),
    "bulksend.models": ("Batch", "BatchResult", "DeliveryReport", "Message", "Outcome", "Recipient", "Status"),
    "bulksend.lists.sources": ("RecipientSource",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

# A literal list, so type checkers see what is exported (tests check it against _HOMES).
__all__ = [
    "AmbiguousOutcome", "Batch", "BatchRejected", "BatchResult", "BulksendError", "CampaignRefused",
    "CampaignRun", "CampaignSpec", "CampaignSummary", "Config", "ConfigError", "DeliveryReport",
    "Engine", "InputError", "Ledger", "MemoryLedger", "Message", "Outcome", "PlanConfig",
    "ProviderError", "RateLimited", "Recipient", "RecipientError", "RecipientSource", "RetryConfig",
    "Status", "TemplateError", "TransientError", "build_spec", "load_config", "parse_config",
    "send", "send_campaign", "__version__",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'bulksend' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
