"""Reading a campaign's list into the journal, block by block.

``Stager.take`` reads the next block of the list, screens it (bad lines,
opt-outs, templates that cannot be filled, bodies over the limits) and drops
numbers the campaign already has (``SeenNumbers``: in memory, 8 bytes a
number, seeded from the journal on resume). What is left goes into the
journal with ``store.append_rows``, together with the counters and
``line_done`` (the last list line staged), in one transaction. After a
crash, staging goes on after ``line_done``: lines at or before it were
staged and counted, and are skipped, so nothing is counted twice.

A campaign is normally staged *while it is sent*: the journal's batch
source (``JournalLedger``) takes a block, cuts its recipients into batches
and appends them already assigned to those batches, so the list is read
once and never read back. ``Stager.step`` stages without sending (a
campaign held until its start time): its rows wait, free, to be paged out.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bulksend.outputs import open_private
from bulksend.core.estimate import BodyMeter
from bulksend.core.seen import Keys, SeenNumbers, as_keys
from bulksend.core.templates import missing_values, placeholders, render
from bulksend.errors import InputError
from bulksend.journal import store
from bulksend.journal.records import CampaignRecord, ListSource
from bulksend.models import Recipient, keep_only, keys_of
from bulksend.recipients import SEND_BLOCK, Block, RecipientSource, load_numbers, read_blocks

CHUNK = 20_000
READ_BLOCK = 2_048
# While the list is sent, a block (``SEND_BLOCK`` lines) is one transaction; a
# commit rewrites the same few pages (the campaign row, the tables' last leaves)
# however little it adds: 2,048-line blocks cost the journal and the loop's
# thread a third more than 16,384-line ones at 200 a batch.
#: batches a block holds at most: they are in flight from their block's
#: commit, so this bounds how many a crash leaves to look up
BLOCK_BATCHES = 2_048

Reject = tuple[int, int, str, str]  # (campaign, line, value, reason)


def fingerprint(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a list, to tell whether it changed; (-1, -1) for stdin."""
    if path == "-":
        return -1, -1
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def check_unchanged(source: ListSource, allow_changes: bool) -> bool:
    """True when staging may go on where it stopped; False to start it over.

    Raises when the list is gone, came from stdin, or changed (unless allowed).
    """
    if source.path == "-":
        raise InputError("the list came from stdin and was not fully read into the journal; "
                         "give it again with --recipients FILE")
    if not Path(source.path).exists():
        raise InputError(f"{source.path}: recipient list not found, and the journal does not hold all of "
                         "it yet; give it with --recipients FILE")
    if fingerprint(source.path) == (source.size, source.mtime_ns):
        return True
    if not allow_changes:
        raise InputError(f"{source.path} changed since bulksend began reading it; pass --allow-changes to "
                         "read it again from the start (numbers the campaign already has are skipped)")
    return False


@dataclass(slots=True)
class Taken:
    """What one block of the list adds to the campaign."""

    #: the new recipients, in list order, and their numbers as int64 keys
    recipients: Sequence[Recipient]
    numbers: Keys
    rejects: list[Reject]
    #: lines read, invalid, excluded, repeated
    read: int
    invalid: int
    excluded: int
    duplicates: int
    #: the last list line this block covers
    line_done: int


class Stager:
    """Reads one campaign's list: ``take`` a block at a time, or ``step`` a chunk."""

    def __init__(self, campaign: CampaignRecord, meter: BodyMeter, chunk: int = CHUNK,
                 block: int | None = None) -> None:
        self.cid = campaign.id
        src = campaign.source
        self.source = RecipientSource(src.path, src.format, src.column)
        self.exclude = src.exclude
        self.body = campaign.message.body
        self.defaults = campaign.message.defaults
        self.keys = placeholders(self.body)
        self.meter = meter
        self.chunk = chunk
        self.block = block
        self.skip_to = campaign.line_done
        self.done = False
        self.read = self.invalid = self.excluded = self.duplicates = 0
        self.seen: SeenNumbers | None = None
        self._blocks: Iterator[Block] | None = None
        self._excluded: set[str] = set()

    def open(self, seen: SeenNumbers) -> None:
        """Start reading; ``seen`` holds the numbers the journal already has."""
        self.seen = seen
        for path in self.exclude:
            self._excluded |= load_numbers(RecipientSource(path))
        self._blocks = read_blocks(self.source, wanted=self.keys, size=self.block or READ_BLOCK)

    def take(self) -> Taken | None:
        """The next block, screened and without repeats; None at the end of the list."""
        assert self._blocks is not None and self.seen is not None, "open() first"
        block = next(self._blocks, None)
        if block is None:
            self.done = True
            return None
        taken = self._screen(block)
        numbers = keys_of(taken.recipients)
        fresh = self.seen.take(numbers)
        if fresh.all():
            taken.numbers = numbers
        else:
            taken.recipients = keep_only(taken.recipients, fresh.tolist())
            taken.numbers = numbers[fresh]
            taken.duplicates = len(fresh) - len(taken.numbers)
        self.skip_to = max(self.skip_to, taken.line_done)
        self.read += taken.read
        self.invalid += taken.invalid
        self.excluded += taken.excluded
        self.duplicates += taken.duplicates
        return taken

    def step(self, conn: sqlite3.Connection) -> bool:
        """Stage the next chunk without sending it; returns ``done``. Journal thread."""
        if self._blocks is None:
            self.open(store.seen_numbers(conn, self.cid))
        parts: list[Taken] = []
        staged = 0
        while staged < self.chunk:
            taken = self.take()
            if taken is None:
                break
            parts.append(taken)
            staged += len(taken.numbers)
        if parts:
            first = store.next_id(conn)
            for taken in parts:
                store.append_rows(conn, self.cid, first, taken, None)
                first += len(taken.numbers)
        return self.done

    def _screen(self, block: Block) -> Taken:
        recipients, errors = block
        skip, cid = self.skip_to, self.cid
        taken = Taken([], as_keys([]), [], 0, 0, 0, 0, skip)
        if not (errors or self.keys or self._excluded) and recipients and recipients[0].line > skip:
            # The common block: a static body, clean lines, no opt-outs, nothing to skip.
            problem = self.meter.add(self.body, len(recipients))
            if problem:
                raise InputError(problem)
            taken.recipients = recipients
            taken.read = len(recipients)
            taken.line_done = recipients[-1].line
            return taken
        for err in errors:
            taken.line_done = max(taken.line_done, err.line)
            if err.line > skip:
                taken.read += 1
                taken.invalid += 1
                taken.rejects.append((cid, err.line, err.value, err.reason))
        keys, excluded = self.keys, self._excluded
        kept: list[Recipient] = []
        taken.recipients = kept
        for r in recipients:
            line = r.line
            if line > taken.line_done:
                taken.line_done = line
            if line <= skip:
                continue
            taken.read += 1
            if excluded and r.msisdn in excluded:
                taken.excluded += 1
                continue
            if keys:
                problem = self._problem(r.params, keys)
                if problem:
                    taken.invalid += 1
                    taken.rejects.append((cid, line, r.msisdn, problem))
                    continue
            kept.append(r)
        if kept and not keys:
            problem = self.meter.add(self.body, len(kept))
            if problem:
                raise InputError(problem)
        return taken

    def _problem(self, params: object, keys: tuple[str, ...]) -> str:
        values = params if isinstance(params, dict) else None
        missing = missing_values(keys, values, self.defaults)
        if missing:
            return "no value for " + ", ".join(f"${{{k}}}" for k in missing)
        return self.meter.add(render(self.body, values, self.defaults))


def write_rejects(conn: sqlite3.Connection, cid: int, path: str, display: str) -> int:
    """The rejects file (source,line,value,reason), from the journal. Journal thread."""
    rows = store.rejects_of(conn, cid)
    if not rows:
        return 0
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open_private(path) as f:  # checked before the run (bulksend.outputs); 0600
            writer = csv.writer(f)
            writer.writerow(("source", "line", "value", "reason"))
            writer.writerows((display, line, value, reason) for line, value, reason in rows)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the rejects file: {exc.strerror}") from None
    return len(rows)


def send_block(batch_size: int, block: int | None = None) -> int:
    """Lines a block holds while the list is sent: whole batches, about
    ``block`` lines (default ``SEND_BLOCK``), at most ``BLOCK_BATCHES`` batches."""
    whole = (block or SEND_BLOCK) // batch_size
    return batch_size * max(1, min(BLOCK_BATCHES, whole))
