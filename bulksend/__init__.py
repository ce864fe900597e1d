"""bulksend: SMS campaigns at the provider's rate, every recipient exactly once.

What a user may import is listed in ``__all__``; everything else is internal.
"""

from bulksend.api import build_spec, send, send_campaign
from bulksend.config import Config, PlanConfig, RetryConfig, load_config, parse_config
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
from bulksend.recipients import RecipientSource

__version__ = "0.1.0"

__all__ = [
    "AmbiguousOutcome", "Batch", "BatchRejected", "BatchResult", "BulksendError", "CampaignRefused",
    "CampaignRun", "CampaignSpec", "CampaignSummary", "Config", "ConfigError", "DeliveryReport",
    "Engine", "InputError", "Ledger", "MemoryLedger", "Message", "Outcome", "PlanConfig",
    "ProviderError", "RateLimited", "Recipient", "RecipientError", "RecipientSource", "RetryConfig",
    "Status", "TemplateError", "TransientError", "build_spec", "load_config", "parse_config",
    "send", "send_campaign", "__version__",
]
