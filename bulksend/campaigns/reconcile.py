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

**The look-back.** A provider may list only recent batches (Sinch: the last
24 hours unless told otherwise, and never more than 14 days back; the limit
is the provider's ``ProviderSpec.lookback_s``). So each lookup names its
span: from the batch's in-flight time (``sent_at`` in the journal) less
``MARGIN_S`` to now plus ``MARGIN_S`` (the provider's clock and ours may
differ). A batch whose span would start further back than the provider can
list is not looked up, and never resent on a guess: it is ``unknown``, with
the limit named, until ``--resend-unknown``.

**Unknowns are asked about again.** A batch that ended ``unknown`` because
its lookups failed (the provider was unreachable, or kept failing) is asked
about again on every resume, like one in flight, once the provider can be
asked: found, it is accepted; absent, it is sent again.

Lookups and cancels change nothing at the provider when repeated, so a
dropped connection is retried like any transient error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bulksend.campaigns.journal_ledger import recipients_of
from bulksend.engine.calls import ProviderCalls
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.journal.records import BatchRow, BatchState, CampaignRecord
from bulksend.models import Batch
from bulksend.providers import PROVIDERS
from bulksend.providers.base import LookupWindow, can_look_up

__all__ = ["MARGIN_S", "Cancelled", "ProviderCalls", "Reconciled", "cancel_accepted", "lookback_of",
           "lookup_window", "reconcile"]

#: a lookup's span starts this long before the batch left and ends this long after now
MARGIN_S = 600.0
_DAY = 86_400.0


@dataclass(slots=True)
class Reconciled:
    found: int = 0       # recipients the provider had: accepted
    returned: int = 0    # recipients it did not have: to be sent again
    unknown: int = 0     # recipients it could not be asked about
    batches: int = 0     # batches left in flight
    asked_again: int = 0  # unknown batches asked about again
    too_old: int = 0     # of ``unknown``: recipients of batches older than the provider can list


def lookup_window(sent_at: float | None, now: float, lookback_s: float | None) -> LookupWindow | None:
    """The span to ask about a batch that left at ``sent_at``; None when it starts
    further back than the provider can list (``lookback_s``; None: no limit)."""
    start = (now if sent_at is None else min(sent_at, now)) - MARGIN_S
    if lookback_s is not None and start < now - lookback_s:
        return None
    return LookupWindow(start, now + MARGIN_S)


def lookback_of(calls: ProviderCalls) -> float | None:
    spec = PROVIDERS.get(calls.plan.provider)
    return spec.lookback_s if spec is not None else None


def _too_old_text(provider: str, row: BatchRow, now: float, lookback_s: float) -> str:
    age = (now - (row.sent_at or now)) / _DAY
    return (f"in flight {age:.1f} days ago; {provider} lists batches at most {lookback_s / _DAY:g} days back, "
            "so it cannot be asked whether it took it (resume with --resend-unknown to send it again)")


async def _batch_of(journal: Journal, campaign: CampaignRecord, row: BatchRow) -> Batch | None:
    members = await journal.read(store.members, row.campaign, row.seq, row.lo, row.hi)
    return Batch(campaign.name, row.seq, recipients_of(members)) if members else None


async def reconcile(journal: Journal, campaign: CampaignRecord, calls: ProviderCalls, resend_unknown: bool,
                    on_event: Callable[[str], None] | None = None, *,
                    skip: frozenset[int] = frozenset()) -> Reconciled:
    """Settle every batch the journal holds in flight, and ask again about unknown
    ones; see the module docstring. ``on_event`` hears what was left unknown and why.
    ``skip``: in-flight batches still held elsewhere (a broker's workers may yet send
    them), so the provider is not asked about them."""
    done = Reconciled()
    for row in await journal.read(store.batches_in, campaign.id, (BatchState.IN_FLIGHT,)):
        if row.seq in skip:
            continue
        done.batches += 1
        await _settle_in_flight(journal, campaign, calls, row, resend_unknown, done)
    if can_look_up(calls.provider):
        for row in await journal.read(store.batches_in, campaign.id, (BatchState.UNKNOWN,)):
            await _ask_again(journal, campaign, calls, row, done)
    if done.too_old and on_event is not None:
        lookback = lookback_of(calls) or 0.0
        on_event(f"{done.too_old:,} recipients are in batches sent more than {lookback / _DAY:g} days ago, "
                 f"further back than {calls.provider.name} can list: their fate is unknown"
                 + ("; sending them again (--resend-unknown)" if resend_unknown else
                    " (resume with --resend-unknown to send them again)"))
    if resend_unknown:
        done.returned += await journal.write(store.return_unknown, campaign.id, journal.clock())
    return done


async def _settle_in_flight(journal: Journal, campaign: CampaignRecord, calls: ProviderCalls, row: BatchRow,
                            resend_unknown: bool, done: Reconciled) -> None:
    batch = await _batch_of(journal, campaign, row)
    if batch is None:
        await journal.write(store.return_batch, campaign.id, row.seq, "empty", "no members", journal.clock())
        return
    now = journal.clock()
    lookback = lookback_of(calls)
    window = lookup_window(row.sent_at, now, lookback)
    if calls.provider.lookup_request(batch) is None or window is None:
        if window is None:
            assert lookback is not None
            code, text = "lookback", _too_old_text(calls.provider.name, row, now, lookback)
            done.too_old += row.size
        else:
            code, text = "unreconciled", ("in flight when bulksend stopped; the provider cannot be asked whether "
                                          "it took it (resume with --resend-unknown to send it again)")
        if resend_unknown:
            done.returned += await journal.write(store.return_batch, campaign.id, row.seq, "resend_unknown",
                                                 f"sent again (--resend-unknown); {text.split(' (resume')[0]}", now)
            return
        done.unknown += row.size
        await journal.write(store.settle, campaign.id, row.seq, BatchState.UNKNOWN, "", code, text,
                            max(row.attempts, 1), (0, 0, row.size), now=now)
        return
    outcome = await calls.lookup(batch, window)
    if outcome is None:
        done.returned += await journal.write(
            store.return_batch, campaign.id, row.seq, "absent",
            "in flight when bulksend stopped; the provider did not have it", journal.clock())
    else:
        done.found += row.size
        await journal.write(store.settle, campaign.id, row.seq, BatchState.ACCEPTED, outcome.provider_id,
                            "reconciled", "in flight when bulksend stopped; the provider had it",
                            max(row.attempts, 1), (row.size, 0, 0), now=journal.clock())


async def _ask_again(journal: Journal, campaign: CampaignRecord, calls: ProviderCalls, row: BatchRow,
                     done: Reconciled) -> None:
    """An ``unknown`` batch (its lookups failed, e.g. the provider was unreachable): ask once more."""
    now = journal.clock()
    window = lookup_window(row.sent_at, now, lookback_of(calls))
    batch = await _batch_of(journal, campaign, row)
    if window is None or batch is None:
        return  # beyond the look-back: it stays unknown (--resend-unknown sends it)
    done.asked_again += 1
    outcome = await calls.lookup(batch, window)
    if outcome is None:
        done.returned += await journal.write(
            store.return_batch, campaign.id, row.seq, "absent",
            "unknown until asked again on resume; the provider did not have it", journal.clock())
    else:
        done.found += await journal.write(
            store.settle_unknown, campaign.id, row.seq, outcome.provider_id, "reconciled",
            "unknown until asked again on resume; the provider had it", journal.clock())


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
