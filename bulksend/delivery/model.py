"""Values of delivery tracking: what a provider said became of a message.

Every provider's status vocabulary is mapped onto one ``DeliveryStatus``
(each provider module holds its own map, e.g. ``providers.xms_reports``);
the provider's own word and code are kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulksend.providers.callbacks import FINAL, DeliveryStatus
from bulksend.providers.classic import CLASSIC_STATUS, classic_status
from bulksend.providers.clickatell_reports import CLICKATELL_STATUS, clickatell_status
from bulksend.providers.xms_reports import XMS_STATUS, xms_status

__all__ = ["CLASSIC_STATUS", "CLICKATELL_STATUS", "FINAL", "XMS_STATUS", "DeliveryStatus", "Inbound", "Report",
           "Sent", "classic_status", "clickatell_status", "xms_status"]


@dataclass(frozen=True, slots=True)
class Report:
    """A status for one recipient of one campaign, as stored."""

    campaign: str
    msisdn: str
    status: DeliveryStatus
    provider_status: str = ""
    code: str = ""
    #: when the provider says it happened (epoch seconds), if it says
    at: float | None = None
    #: when bulksend learned it (epoch seconds)
    received_at: float = 0.0
    provider_id: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message a handset sent to us (MO), with its opt-out flag."""

    provider: str
    plan: str
    sender: str
    recipient: str
    body: str
    received_at: float
    at: float | None = None
    message_id: str = ""
    opt_out: bool = False
    keyword: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    """A recipient the provider accepted: what ties its later reports to it."""

    campaign: str
    msisdn: str
    provider_id: str
    accepted_at: float
