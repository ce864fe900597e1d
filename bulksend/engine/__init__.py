"""The async layer: plans, campaigns, and the engine that runs them."""

from bulksend.engine.campaign import CampaignRun, CampaignSpec, CampaignStats, CampaignSummary
from bulksend.engine.engine import Engine
from bulksend.engine.ledger import Ledger, MemoryLedger

__all__ = ["CampaignRun", "CampaignSpec", "CampaignStats", "CampaignSummary", "Engine", "Ledger", "MemoryLedger"]
