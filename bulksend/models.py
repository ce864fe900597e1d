"""Values that cross module boundaries.

Per-batch and per-campaign values are frozen, slotted dataclasses that check
themselves when built. ``Recipient`` is a ``NamedTuple`` instead: a campaign
makes millions of them, and a tuple is built several times faster than a
frozen dataclass while being just as immutable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class Recipient(NamedTuple):
    """One normalized recipient: digits only, no prefix."""

    msisdn: str
    params: Mapping[str, str] | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Batch:
    """Recipients that go out in one provider request, in queue order."""

    campaign: str
    seq: int
    recipients: tuple[Recipient, ...]

    def __post_init__(self) -> None:
        if not self.recipients:
            raise ValueError("a batch needs at least one recipient")
        if self.seq < 0:
            raise ValueError("batch seq must be >= 0")

    @property
    def size(self) -> int:
        return len(self.recipients)

    @property
    def client_reference(self) -> str:
        """Stable across retries and restarts, so a batch can be found again."""
        return f"{self.campaign}:{self.seq}"


class DeliveryReport(str, enum.Enum):
    NONE = "none"
    SUMMARY = "summary"
    FULL = "full"
    PER_RECIPIENT = "per_recipient"
    PER_RECIPIENT_FINAL = "per_recipient_final"


@dataclass(frozen=True, slots=True)
class Message:
    """What every recipient of a campaign is sent (before templating)."""

    body: str
    sender: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    delivery_report: DeliveryReport = DeliveryReport.NONE
    send_at: str | None = None
    expire_at: str | None = None
    callback_url: str | None = None
    max_parts: int | None = None

    def __post_init__(self) -> None:
        if self.max_parts is not None and not 1 <= self.max_parts <= 255:
            raise ValueError("max_parts must be between 1 and 255")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request a provider codec built; the engine sends it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back, handed to a provider codec to interpret."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Status(str, enum.Enum):
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a recipient (or of every recipient of a batch)."""

    status: Status
    provider_id: str = ""
    code: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A provider's answer to one batch.

    ``outcome`` holds for every recipient unless ``per_recipient`` names the
    recipient (providers such as Clickatell answer per number).
    """

    outcome: Outcome
    per_recipient: Mapping[str, Outcome] | None = None

    def outcome_for(self, msisdn: str) -> Outcome:
        if self.per_recipient is not None:
            found = self.per_recipient.get(msisdn)
            if found is not None:
                return found
        return self.outcome
