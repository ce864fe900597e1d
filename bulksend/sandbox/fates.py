"""Each recipient's fate in the sandbox: a pure function of (seed, message, number).

When the sandbox accepts a message it does not store a status per
recipient: ``fate`` draws Delivered, Failed or Expired and a delay from a
hash, so the GET reports, Classic status polling and the callbacks always
agree, whatever order requests arrived in, and a batch of a million costs no
memory. A message is ``Queued`` until its plan's queue (or its ``send_at``)
dispatches it, ``Dispatched`` until ``dispatched_at + delay (+ jitter)``, then
final; ``Cancelled`` (407) if it was cancelled before dispatch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bulksend.sandbox.config import DeliverySim
from bulksend.sandbox.state import BatchRecord, SandboxState

DELIVERED = "Delivered"
FAILED = "Failed"
EXPIRED = "Expired"
CODES = {DELIVERED: 0, FAILED: 402, EXPIRED: 406}
QUEUED = (400, "Queued")
DISPATCHED = (401, "Dispatched")
CANCELLED = (407, "Cancelled")
PER_RECIPIENT = ("per_recipient", "per_recipient_final")
PER_BATCH = ("summary", "full")

#: Clickatell messageStatus for each final fate (and its description)
CLICKATELL_STATUS = {
    DELIVERED: ("004", "Received by recipient"),
    FAILED: ("007", "Error delivering message"),
    EXPIRED: ("010", "Message expired"),
}


#: a Clickatell message stopped (``DELETE .../rest/message/{id}``) before it was final
STOPPED = ("006", "User cancelled message delivery")


def clickatell_stopped(record: BatchRecord, message_id: str, t: float) -> bool:
    """Was the message stopped at or before clock time ``t``?"""
    at = record.extra.get("stopped", {}).get(message_id)
    return at is not None and at <= t


@dataclass(frozen=True, slots=True)
class Fate:
    status: str      # Delivered | Failed | Expired
    after: float     # seconds after dispatch

    @property
    def code(self) -> int:
        return CODES[self.status]


def fate(seed: int, message_id: str, number: str, sim: DeliverySim) -> Fate:
    """A recipient's final status and delay: the same every time it is asked."""
    digest = hashlib.blake2b(f"{seed}:{message_id}:{number}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest[:4], "big") / 2**32
    v = int.from_bytes(digest[4:], "big") / 2**32
    if u < sim.failed_rate:
        status = FAILED
    elif u < sim.failed_rate + sim.expired_rate:
        status = EXPIRED
    else:
        status = DELIVERED
    return Fate(status, sim.delay + v * sim.delay_jitter)


class BatchFates:
    """The ``status_hook`` of one accepted message or batch (``BatchRecord.extra``)."""

    __slots__ = ("seed", "sim")

    def __init__(self, seed: int, sim: DeliverySim) -> None:
        self.seed = seed
        self.sim = sim

    def fate(self, message_id: str, number: str) -> Fate:
        return fate(self.seed, message_id, number, self.sim)

    def final_at(self, record: BatchRecord, number: str, message_id: str | None = None) -> float:
        return record.dispatched_at + self.fate(message_id or record.id, number).after

    def __call__(self, record: BatchRecord, number: str, now: float) -> tuple[int, str]:
        return self.status(record, number, now)

    def status(self, record: BatchRecord, number: str, now: float,
               message_id: str | None = None) -> tuple[int, str]:
        canceled_at = record.extra.get("canceled_at")
        if canceled_at is not None and canceled_at < record.dispatched_at and now >= canceled_at:
            return CANCELLED
        if now < record.dispatched_at:
            return QUEUED
        found = self.fate(message_id or record.id, number)
        if now < record.dispatched_at + found.after:
            return DISPATCHED
        return found.code, found.status


def attach(state: SandboxState, record: BatchRecord) -> BatchFates:
    fates = BatchFates(state.config.seed or 0, state.config.delivery)
    record.extra["status_hook"] = fates
    return fates
