"""Reading a campaign's list into the journal, block by block.

``Stager.take`` reads the next block of the list through the one intake
(``bulksend.lists.screen.Screener``: bad lines, opt-outs, templates that
cannot be filled, bodies over the limits, numbers the campaign already has,
its ``SeenNumbers`` seeded from the journal on resume). What is left goes into the
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

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bulksend.core.estimate import BodyMeter
from bulksend.core.seen import SeenNumbers
from bulksend.core.templates import placeholders
from bulksend.errors import InputError, RecipientError
from bulksend.journal import store
from bulksend.journal.records import CampaignRecord, ListSource
from bulksend.journal.staged import Taken
from bulksend.lists.rejects import RejectsFile
from bulksend.lists.screen import ListCounts, Screened, Screener
from bulksend.lists.sources import RecipientSource

__all__ = ["Stager", "Taken", "check_unchanged", "fingerprint", "write_rejects"]

CHUNK = 20_000
READ_BLOCK = 2_048
# While the list is sent, a block (``send_block`` lines) is one transaction; a
# commit rewrites the same few pages (the campaign row, the tables' last leaves)
# however little it adds: 2,048-line blocks cost the journal and the loop's
# thread a third more than 16,384-line ones at 200 a batch.



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


class Stager:
    """Reads one campaign's list: ``take`` a block at a time, or ``step`` a chunk.

    The screening is the one intake's (``Screener``); the Stager adds where
    the list stopped (``skip_to``), the numbers the journal already has, and
    the writing of blocks."""

    def __init__(self, campaign: CampaignRecord, meter: BodyMeter, chunk: int = CHUNK,
                 block: int | None = None) -> None:
        self.cid = campaign.id
        src = campaign.source
        self.source = RecipientSource(src.path, src.format, src.column, src.delimiter, src.region)
        self.region = src.region
        self.exclude = src.exclude
        self.message = campaign.message
        self.keys = placeholders(campaign.message.body)
        self.meter = meter
        self.chunk = chunk
        self.block = block
        self.skip_to = campaign.line_done
        self.done = False
        self.counts = ListCounts()
        self.seen: SeenNumbers | None = None
        self._blocks: Iterator[Screened] | None = None

    @property
    def read(self) -> int:
        return self.counts.read

    @property
    def duplicates(self) -> int:
        return self.counts.duplicates

    def open(self, seen: SeenNumbers) -> None:
        """Start reading; ``seen`` holds the numbers the journal already has."""
        self.seen = seen
        screener = Screener(self.source, self.message.body, self.message.defaults, self.meter,
                            exclude=[RecipientSource(path, region=self.region) for path in self.exclude], seen=seen,
                            skip_to=self.skip_to)
        self._blocks = screener.blocks(self.block or READ_BLOCK)

    def take(self) -> Taken | None:
        """The next block, screened and without repeats; None at the end of the list."""
        assert self._blocks is not None and self.seen is not None, "open() first"
        screened = next(self._blocks, None)
        if screened is None:
            self.done = True
            return None
        self.skip_to = max(self.skip_to, screened.line_done)
        self.counts.add(screened.counts)
        return Taken.of(self.cid, screened)

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


def write_rejects(conn: sqlite3.Connection, cid: int, path: str, display: str) -> int:
    """The rejects file, from the journal, as every path writes it. Journal thread."""
    out = RejectsFile(path)
    try:
        out.write(RecipientError(reason, value, line, display) for line, value, reason in store.rejects_of(conn, cid))
    finally:
        out.close()
    return out.rows
