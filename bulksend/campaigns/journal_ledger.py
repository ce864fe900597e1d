"""``JournalLedger``: the engine's ``Ledger`` for one campaign, kept in the journal.

It is also the campaign's batch source (``batches``), in two parts:

1. recipients already in the journal and in no live batch (a resumed
   campaign): paged out in list order; a batch's members are the free rows
   between its first and last id, so recording it in flight is one
   ``UPDATE`` over an id range, whatever its size;
2. the rest of the list, if it was not all read yet: the ``Stager`` reads
   it a block at a time and the block's new recipients are cut into
   batches, which go to the journal in one transaction (not awaited). So
   the list is read once, while the first batches are sent, and never read
   back. When the provider can be asked about a batch, the batches are
   written in flight in that transaction, their members in their own rows
   (see ``_write``); otherwise the block is appended as recipient rows
   already in their batches, and each batch is marked just before its
   request.

Batches are numbered above every seq the journal ever recorded.

Which recipients the campaign takes is the intake's business (the
``Stager`` screens with ``bulksend.lists.screen``), so this ledger has no
``admit``: nothing reads the list but its own batch source.

The engine calls, per batch: ``before_send`` (the batch is written in
flight, durably, before the request leaves), then ``after_send`` (the
outcome, per recipient if the provider answered per recipient), or
``skipped`` when the request was never answered with an acceptance.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import orjson

from bulksend.core.templates import placeholders
from bulksend.errors import BulksendError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.journal.records import (
    R_ACCEPTED,
    R_FAILED,
    R_UNKNOWN,
    BatchState,
    CampaignRecord,
)
from bulksend.journal.staged import Taken
from bulksend.journal.staging import Stager
from bulksend.journal.store import Assignment
from bulksend.lists.batches import BLOCK_BATCHES, cut, send_block
from bulksend.models import Batch, BatchResult, Numbers, Recipient, Status

if TYPE_CHECKING:
    from bulksend.engine.campaign import CampaignRun

PAGE_BATCHES = 8
PAGE_MIN = 2048  # rows per page at least: tiny batches (1 per request) would page too often
_new = tuple.__new__

_BATCH_STATE = {Status.ACCEPTED: BatchState.ACCEPTED, Status.FAILED: BatchState.FAILED,
                Status.UNKNOWN: BatchState.UNKNOWN, Status.SKIPPED: BatchState.FAILED}
_ROW_STATE = {Status.ACCEPTED: R_ACCEPTED, Status.FAILED: R_FAILED, Status.UNKNOWN: R_UNKNOWN,
              Status.SKIPPED: R_FAILED}


class _Span(NamedTuple):
    """A batch's members: the free rows between these ids when it was cut
    (a tuple: one is made for every batch, thousands a second at 1 a request)."""

    lo: int
    hi: int
    #: appended already in this batch (streamed from the list), not paged out free
    assigned: bool = False
    #: written in flight with its block: this commit must be done before it is sent
    written: asyncio.Future[None] | None = None


def recipients_of(rows: Sequence[tuple[int, str, str | None]]) -> tuple[Recipient, ...]:
    """Recipients from journal rows ``(id, msisdn, params)``; the list line is not needed to send."""
    if all(p is None for _i, _m, p in rows):  # a static body, the common case: the cheapest loop
        return tuple([_new(Recipient, (m, None, 0)) for _i, m, _p in rows])
    return tuple([_new(Recipient, (m, orjson.loads(p) if p else None, 0)) for _i, m, p in rows])


class JournalLedger:
    """Ledger and batch source of one journaled campaign."""

    def __init__(self, journal: Journal, campaign: CampaignRecord, page_batches: int = PAGE_BATCHES, *,
                 stager: Stager | None = None, on_staged: Callable[[], Awaitable[None]] | None = None,
                 early_marks: bool = False) -> None:
        self.journal = journal
        self.campaign = campaign
        self.page_batches = page_batches
        #: reads the part of the list not in the journal yet; None when it is all there
        self.stager = stager
        self.on_staged = on_staged
        self._spans: dict[int, _Span] = {}
        self._in_flight: set[int] = set()
        #: batches cut from the list are written in flight with their block (see ``_write``)
        self.early_marks = early_marks
        #: a journal failure met where nobody awaits (``skipped``), for the run's end
        self.failure: BulksendError | None = None

    # -- the batch source ----------------------------------------------------
    async def batches(self, run: CampaignRun) -> AsyncIterator[Batch]:
        """Every recipient in no live batch, then the rest of the list, as new batches."""
        await self.journal.write(store.free_orphans, self.campaign.id)
        seq = await self.journal.read(store.next_seq, self.campaign.id)
        paged = self._static(run, seq) if not placeholders(self.campaign.message.body) else self._paged(run, seq)
        async for batch in paged:
            seq = batch.seq + 1
            yield batch
        if self.stager is not None and not run.stopping:
            async for batch in self._streamed(run, seq, self.stager):
                yield batch

    async def _paged(self, run: CampaignRun, seq: int) -> AsyncIterator[Batch]:
        cid, name, size = self.campaign.id, self.campaign.name, run.batch_size
        after = self.campaign.first_id - 1
        while not run.stopping:
            rows = await self.journal.read(store.page_new, cid, after, max(size * self.page_batches, PAGE_MIN))
            if not rows:
                return
            after = rows[-1][0]
            for start in range(0, len(rows), size):
                chunk = rows[start:start + size]
                self._spans[seq] = _Span(chunk[0][0], chunk[-1][0])
                yield Batch(name, seq, recipients_of(chunk))
                seq += 1

    async def _static(self, run: CampaignRun, seq: int) -> AsyncIterator[Batch]:
        """A static body needs only the numbers: SQLite joins each batch's into one string."""
        cid, name, size = self.campaign.id, self.campaign.name, run.batch_size
        after = self.campaign.first_id - 1
        count = min(64, max(self.page_batches, PAGE_MIN // size))  # batches per journal call
        while not run.stopping:
            page = await self.journal.read(store.page_numbers, cid, after, size, count)
            if not page:
                return
            for lo, hi, numbers in page:
                self._spans[seq] = _Span(lo, hi)
                yield Batch(name, seq, Numbers(numbers.split(",")))
                seq += 1
            after = page[-1][1]

    async def _streamed(self, run: CampaignRun, seq: int, stager: Stager) -> AsyncIterator[Batch]:
        """The rest of the list: read a block, cut it into batches, write them, send them.

        A block is a whole number of batches' worth of lines, and is cut on
        its own (its last batch is short when some lines were bad or
        repeated), so every batch comes from one block and goes to the
        journal in that block's transaction.

        The reading runs two blocks ahead of the sending: a block is written
        before the two before it are handed out, so its commit has their
        sending to finish in. Written just in time, the commit (a few
        hand-overs of the interpreter lock while the event loop is busy, now
        and then a checkpoint) was often late: at 200 a batch, a block is
        sent in about 16 ms, and one batch in seven waited for its block,
        holding a worker's slot.
        """
        cid, name, size = self.campaign.id, self.campaign.name, run.batch_size
        if stager.seen is None:
            stager.block = send_block(size, stager.block)
            stager.open(await self.journal.read(store.seen_numbers, cid))
        lo = await self.journal.read(store.next_id)
        # Two blocks ahead; one when a block is BLOCK_BATCHES requests (small
        # batches), which take long enough to send on their own.
        depth = 1 if send_block(size, stager.block) // size >= BLOCK_BATCHES else 2
        ahead: deque[list[Batch]] = deque()  # blocks written, not yet handed out
        while not run.stopping:
            taken = stager.take()
            if taken is None:
                break
            run.count_list(taken.counts)
            fresh = taken.recipients  # ``Numbers`` when the body is static
            block = cut(name, seq, fresh, size)
            spans = [(b.seq, lo + k * size, lo + k * size + b.size - 1) for k, b in enumerate(block)]
            self._write(lo, taken, (seq, lo, size), spans, fresh)
            ahead.append(block)
            if len(ahead) > depth:
                for batch in ahead.popleft():
                    yield batch
            if block:
                seq = block[-1].seq + 1
            else:
                await asyncio.sleep(0)  # a block of nothing but repeats: let the senders run
            lo += len(fresh)
        for block in ahead:
            for batch in block:
                yield batch
        if stager.done and self.on_staged is not None:
            await self.on_staged()

    def _write(self, lo: int, taken: Taken, assign: Assignment, cut: list[tuple[int, int, int]],
               fresh: Sequence[Recipient]) -> None:
        """Write a block and the batches ``cut`` from it (not awaited).

        When the provider can be asked about a batch (``early_marks``), the
        batches go in flight in the block's own transaction, the block's
        members in one row: a batch is ready to go as soon as its block is on disk,
        with no record of its own before its request, and the journal writes
        one row a batch, not one a recipient. A batch that never left goes
        back when the run ends (``close``), or is found absent by the
        reconcile after a crash. When the provider cannot be asked, the block
        is appended as rows already in their batches, and each batch is
        marked just before its request, so a crash leaves as few recipients
        unknown as possible.
        """
        cid = self.campaign.id
        if not self.early_marks:
            self.journal.post_rows(cid, lo, taken, assign)
            for seq, first, last in cut:
                self._spans[seq] = _Span(first, last, True)
            return
        # The block's members go in as one row, its numbers the reader's int64 keys.
        params = None if isinstance(fresh, Numbers) else orjson.dumps([r.params for r in fresh]).decode()
        written = self.journal.write_batches(cid, taken, lo, cut, params)
        spans = self._spans
        for seq, first, last in cut:
            spans[seq] = _Span(first, last, True, written)

    # -- the Ledger protocol ---------------------------------------------------
    async def before_send(self, batch: Batch) -> None:
        span = self._spans[batch.seq]
        if span.written is not None:  # in flight with its block: wait for that to be on disk
            if span.written.done():  # usually, long since: the producer reads a queue's worth ahead
                span.written.result()
            else:
                await asyncio.shield(span.written)
            self._in_flight.add(batch.seq)
            return
        await self.journal.mark_in_flight(self.campaign.id, batch.seq, span.lo, span.hi, batch.size, span.assigned)
        self._in_flight.add(batch.seq)

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        self._spans.pop(batch.seq, None)
        self._in_flight.discard(batch.seq)
        o = result.outcome
        if result.per_recipient is None:
            state = _BATCH_STATE[o.status]
            n = batch.size
            tally = (n if state is BatchState.ACCEPTED else 0, n if state is BatchState.FAILED else 0,
                     n if state is BatchState.UNKNOWN else 0)
            # Not awaited: if it never reaches the disk, the batch stays in flight and is reconciled.
            self.journal.post_settle(self.campaign.id, batch.seq, state, o.provider_id, o.code, o.text,
                                     attempts, tally, linger=self.early_marks)
            return
        rows = []
        counts = {R_ACCEPTED: 0, R_FAILED: 0, R_UNKNOWN: 0}
        for r in batch.recipients:
            each = result.outcome_for(r.msisdn)
            code = _ROW_STATE[each.status]
            counts[code] += 1
            rows.append((r.msisdn, each.provider_id, each.code, code))
        tally = (counts[R_ACCEPTED], counts[R_FAILED], counts[R_UNKNOWN])
        uniform = [s for s, n in zip((BatchState.ACCEPTED, BatchState.FAILED, BatchState.UNKNOWN), tally) if n]
        state = uniform[0] if len(uniform) == 1 else BatchState.MIXED
        self.journal.post_settle(self.campaign.id, batch.seq, state, o.provider_id, o.code, o.text,
                                 attempts, tally, rows, linger=self.early_marks)

    async def skipped(self, batch: Batch) -> None:
        """Taken off the queue, refused by the provider or never got through: it goes back to be sent.

        The engine runs this as a task nobody awaits; a journal that cannot
        record it (a full disk) leaves the batch in flight, reconciled on
        resume, and the failure is kept for the run's end (``failure``).
        """
        span = self._spans.pop(batch.seq, None)
        if batch.seq in self._in_flight or (span is not None and span.written is not None):
            self._in_flight.discard(batch.seq)
            try:
                await self._return(batch.seq, span,
                                   "the run stopped before the provider took it; sent again on resume")
            except BulksendError as exc:
                self.failure = self.failure or exc

    async def close(self) -> None:
        """The run is over: batches written in flight with their block that never
        left go back to be sent (a crash leaves them to the reconcile instead)."""
        for seq, span in list(self._spans.items()):
            if span.written is not None and seq not in self._in_flight:
                await self._return(seq, span, "never sent: the run stopped first")
        self._spans.clear()

    async def _return(self, seq: int, span: _Span | None, text: str) -> None:
        if span is not None and span.written is not None:
            await asyncio.shield(span.written)  # the batch row must be on disk to be returned
        await self.journal.write(store.return_batch, self.campaign.id, seq, "not_taken", text, self.journal.clock())

