"""Values the journal hands out and takes: campaigns, counts, batch rows, staged blocks.

Pure: no SQL and no I/O here, only the shapes and how a ``Message`` and a
list's description are written to and read from the journal (as JSON, and
never with a token: a plan's secrets stay in the environment).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bulksend.models import DeliveryReport, Message, Recipient

if TYPE_CHECKING:  # numpy is only needed by whoever builds a block
    from bulksend.core.seen import Keys

# recipients.state
NEW = 0          # staged; in no live batch: it will be sent
BATCHED = 1      # in batch ``seq``; the batch row says what became of it
R_ACCEPTED = 2   # answered per recipient (per_recipient results)
R_FAILED = 3
R_UNKNOWN = 4

RECIPIENT_STATUS = {R_ACCEPTED: "accepted", R_FAILED: "failed", R_UNKNOWN: "unknown"}


class StagedBlock(Protocol):
    """What one screened block of the list adds to a campaign, as the store writes it.

    Whoever reads the list (the screener) builds it; the journal only needs
    these fields, so it never imports the code that reads lists.
    """

    #: the new recipients, in list order, and their numbers as int64 keys
    recipients: Sequence[Recipient]
    numbers: Keys
    #: ``(campaign, line, value, reason)`` of each bad line
    rejects: list[tuple[int, int, str, str]]
    #: lines read, invalid, excluded, repeated
    read: int
    invalid: int
    excluded: int
    duplicates: int
    #: the last list line this block covers
    line_done: int


class CampaignState(str, enum.Enum):
    STAGING = "staging"        # the list is being read into the journal
    SCHEDULED = "scheduled"    # held by bulksend until start_at
    RUNNING = "running"        # a process is sending it (or was, and died)
    PAUSED = "paused"          # stopped early; ``resume`` goes on
    DONE = "done"              # nothing left to send
    CANCELLED = "cancelled"    # never to be sent further


class BatchState(str, enum.Enum):
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    MIXED = "mixed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ListSource:
    """Where a campaign's list came from, to finish staging after a crash."""

    path: str
    format: str | None = None
    column: str | None = None
    exclude: tuple[str, ...] = ()
    size: int = -1
    mtime_ns: int = -1
    rejects_path: str | None = None
    #: how the list is read: a CSV's separator, the country of national numbers
    delimiter: str | None = None
    region: str | None = None

    def to_json(self) -> str:
        return orjson.dumps({
            "path": self.path, "format": self.format, "column": self.column,
            "exclude": list(self.exclude), "size": self.size, "mtime_ns": self.mtime_ns,
            "rejects_path": self.rejects_path, "delimiter": self.delimiter, "region": self.region,
        }).decode()

    @classmethod
    def from_json(cls, text: str) -> ListSource:
        d = orjson.loads(text)
        return cls(d["path"], d.get("format"), d.get("column"), tuple(d.get("exclude", ())),
                   int(d.get("size", -1)), int(d.get("mtime_ns", -1)), d.get("rejects_path"),
                   d.get("delimiter"), d.get("region"))


def message_to_json(message: Message) -> str:
    return orjson.dumps({
        "body": message.body, "sender": message.sender, "defaults": dict(message.defaults),
        "delivery_report": message.delivery_report.value, "send_at": message.send_at,
        "expire_at": message.expire_at, "callback_url": message.callback_url,
        "max_parts": message.max_parts,
    }, option=orjson.OPT_SORT_KEYS).decode()


def message_from_json(text: str) -> Message:
    d = orjson.loads(text)
    return Message(
        body=d["body"], sender=d.get("sender"), defaults=dict(d.get("defaults") or {}),
        delivery_report=DeliveryReport(d.get("delivery_report", "none")), send_at=d.get("send_at"),
        expire_at=d.get("expire_at"), callback_url=d.get("callback_url"), max_parts=d.get("max_parts"),
    )


def message_hash(message: Message) -> str:
    """What identifies a campaign's message: body, sender and every option."""
    return hashlib.sha256(message_to_json(message).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Target:
    """What a campaign is sent through. Never a secret."""

    plan: str
    provider: str
    account: str = ""     # the plan's non-secret id, e.g. the XMS service_plan_id
    endpoint: str = ""    # the base URL

    def differs(self, other: Target) -> str:
        """Why ``other`` is a different provider, or "" if it is the same one."""
        for name in ("provider", "account", "endpoint"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                return f"{name} {mine!r} -> {theirs!r}"
        return ""


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: int
    name: str
    state: CampaignState
    reason: str
    target: Target
    message: Message
    message_hash: str
    source: ListSource
    max_batch: int | None
    start_at: float | None
    created_at: float
    updated_at: float
    first_id: int
    staged: bool
    line_done: int
    read: int
    invalid: int
    duplicates: int
    excluded: int
    total: int
    parts: dict[str, Any] = field(default_factory=dict)
    staging_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    """Recipients of a campaign by where they stand."""

    total: int = 0
    pending: int = 0
    in_flight: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0

    @property
    def settled(self) -> int:
        return self.accepted + self.failed + self.unknown + self.cancelled

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in
                ("total", "pending", "in_flight", "accepted", "failed", "unknown", "cancelled")}


@dataclass(frozen=True, slots=True)
class BatchRow:
    campaign: int
    seq: int
    lo: int
    hi: int
    size: int
    state: BatchState
    provider_id: str | None
    code: str
    text: str
    attempts: int
    sent_at: float | None
    settled_at: float | None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One recipient as ``bulksend report`` writes it."""

    msisdn: str
    status: str
    batch_id: str
    provider_id: str
    code: str
    attempts: int
    sent_at: float | None
    params: dict[str, str] | None = None


def iso_utc(ts: float | None) -> str:
    """``2026-05-01T09:00:00.123Z``, or "" for no time."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
