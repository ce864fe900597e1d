"""Asking the provider about batches the journal left in flight, and cancelling.

A batch is ``in_flight`` in the journal when its request may have left but
no answer was recorded (the process died, or was stopped past its grace
period). Before anything else is sent on resume, each one is settled:

* the provider can be asked (Sinch XMS: list batches by client_reference)
  and has it: ``accepted``, with the provider's id;
* it can be asked and does not: the batch is ``returned`` and its
  recipients are sent again, under a new seq;
* it cannot be asked: ``unknown``, reported, and sent again only when the
  operator says ``--resend-unknown``.

Lookups and cancels change nothing at the provider when repeated, so a
dropped connection is retried like any transient error.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulksend.journal import store
from bulksend.campaigns.journal_ledger import recipients_of
from bulksend.engine.calls import ProviderCalls
from bulksend.journal.journal import Journal
from bulksend.journal.records import BatchRow, BatchState, CampaignRecord
from bulksend.models import Batch

__all__ = ["Cancelled", "ProviderCalls", "Reconciled", "cancel_accepted", "reconcile"]


@dataclass(slots=True)
class Reconciled:
    found: int = 0       # recipients the provider had: accepted
    returned: int = 0    # recipients it did not have: to be sent again
    unknown: int = 0     # recipients it could not be asked about
    batches: int = 0


async def _batch_of(journal: Journal, campaign: CampaignRecord, row: BatchRow) -> Batch | None:
    members = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
    return Batch(campaign.name, row.seq, recipients_of(members)) if members else None


async def reconcile(journal: Journal, campaign: CampaignRecord, calls: ProviderCalls,
                    resend_unknown: bool) -> Reconciled:
    """Settle every batch the journal holds in flight; see the module docstring."""
    done = Reconciled()
    for row in await journal.read(store.batches_in, campaign.id, (BatchState.IN_FLIGHT,)):
        done.batches += 1
        batch = await _batch_of(journal, campaign, row)
        if batch is None:
            await journal.write(store.return_batch, campaign.id, row.seq, "empty", "no members", journal.clock())
            continue
        if calls.provider.lookup_request(batch) is None:
            if resend_unknown:
                done.returned += await journal.write(
                    store.return_batch, campaign.id, row.seq, "resend_unknown", "sent again (--resend-unknown)",
                    journal.clock())
            else:
                done.unknown += row.size
                await journal.write(
                    store.settle, campaign.id, row.seq, BatchState.UNKNOWN, "", "unreconciled",
                    "in flight when bulksend stopped; the provider cannot be asked whether it took it "
                    "(resume with --resend-unknown to send it again)", max(row.attempts, 1), (0, 0, row.size),
                    now=journal.clock())
            continue
        outcome = await calls.lookup(batch)
        if outcome is None:
            done.returned += await journal.write(
                store.return_batch, campaign.id, row.seq, "absent",
                "in flight when bulksend stopped; the provider did not have it", journal.clock())
        else:
            done.found += row.size
            await journal.write(store.settle, campaign.id, row.seq, BatchState.ACCEPTED, outcome.provider_id,
                                "reconciled", "in flight when bulksend stopped; the provider had it",
                                max(row.attempts, 1), (row.size, 0, 0), now=journal.clock())
    if resend_unknown:
        done.returned += await journal.write(store.return_unknown, campaign.id, journal.clock())
    return done


@dataclass(slots=True)
class Cancelled:
    batches: int = 0
    recipients: int = 0
    failures: list[str] | None = None


async def cancel_accepted(journal: Journal, campaign: CampaignRecord, calls: ProviderCalls) -> Cancelled:
    """Cancel at the provider every accepted batch it still holds (scheduled ``send_at``)."""
    done = Cancelled(failures=[])
    rows = await journal.read(store.batches_in, campaign.id, (BatchState.ACCEPTED, BatchState.MIXED))
    for row in rows:
        if not row.provider_id:
            continue
        ok, why = await calls.cancel(row.provider_id)
        if ok:
            await journal.write(store.mark_cancelled, campaign.id, row.seq, journal.clock())
            done.batches += 1
            done.recipients += row.size
        elif done.failures is not None:
            done.failures.append(f"batch {row.seq} ({row.provider_id}): {why}")
    return done
