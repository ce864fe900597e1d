"""Values of delivery tracking: what a provider said became of a message.

Every provider's status vocabulary is mapped onto one ``DeliveryStatus``;
the provider's own word and code are kept beside it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DeliveryStatus(str, enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"
    ABORTED = "aborted"
    PENDING = "pending"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.EXPIRED,
                   DeliveryStatus.REJECTED, DeliveryStatus.ABORTED})

#: Sinch XMS statuses (delivery reports, callbacks)
XMS_STATUS = {
    "Delivered": DeliveryStatus.DELIVERED, "Failed": DeliveryStatus.FAILED,
    "Expired": DeliveryStatus.EXPIRED, "Rejected": DeliveryStatus.REJECTED,
    "Aborted": DeliveryStatus.ABORTED, "Cancelled": DeliveryStatus.ABORTED,
    "Deleted": DeliveryStatus.FAILED, "Queued": DeliveryStatus.PENDING,
    "Dispatched": DeliveryStatus.PENDING, "Unknown": DeliveryStatus.UNKNOWN,
}

#: Sinch Classic message status
CLASSIC_STATUS = {
    "Successful": DeliveryStatus.DELIVERED, "Faulted": DeliveryStatus.FAILED,
    "Pending": DeliveryStatus.PENDING, "Unknown": DeliveryStatus.UNKNOWN,
}

#: Clickatell messageStatus codes
CLICKATELL_STATUS = {
    "001": DeliveryStatus.UNKNOWN,    # message unknown
    "002": DeliveryStatus.PENDING,    # queued
    "003": DeliveryStatus.PENDING,    # delivered to gateway
    "004": DeliveryStatus.DELIVERED,  # received by recipient
    "005": DeliveryStatus.FAILED,     # error with message
    "006": DeliveryStatus.ABORTED,    # user cancelled delivery
    "007": DeliveryStatus.FAILED,     # error delivering message
    "008": DeliveryStatus.PENDING,    # OK (received by Clickatell)
    "009": DeliveryStatus.FAILED,     # routing error
    "010": DeliveryStatus.EXPIRED,    # message expired
    "011": DeliveryStatus.PENDING,    # scheduled for later delivery
    "012": DeliveryStatus.FAILED,     # out of credit
    "013": DeliveryStatus.ABORTED,    # Clickatell cancelled the message
    "014": DeliveryStatus.FAILED,     # maximum MT limit exceeded
}


#: status names are matched case-insensitively ("DELIVERED", "delivered" and "Delivered" alike)
_XMS_BY_NAME = {name.lower(): status for name, status in XMS_STATUS.items()}
_CLASSIC_BY_NAME = {name.lower(): status for name, status in CLASSIC_STATUS.items()}


def xms_status(value: str) -> DeliveryStatus:
    return _XMS_BY_NAME.get(value.strip().lower(), DeliveryStatus.UNKNOWN)


def classic_status(value: str) -> DeliveryStatus:
    return _CLASSIC_BY_NAME.get(value.strip().lower(), DeliveryStatus.UNKNOWN)


def clickatell_status(value: str) -> DeliveryStatus:
    code = value.strip()
    if code.isdigit():
        code = code.zfill(3)
    return CLICKATELL_STATUS.get(code, DeliveryStatus.UNKNOWN)


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
