"""Reading a campaign's list into the journal, one chunk per transaction.

The whole list is staged before the first batch is sent: sending then reads
only the journal, so a resumed campaign never needs its list again, and
the duplicates can be dropped in one sort at the end (``store.finish_staging``)
instead of one index probe per number.

``Stager.step`` runs on the journal's thread (``Journal.call``): it parses
the next blocks of the list and appends them, together with the counters
and ``line_done`` (the last list line staged), in one transaction. After a
crash, staging goes on after ``line_done``: lines at or before it were
staged and counted, and are skipped, so nothing is counted twice.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson

from bulksend.core.estimate import BodyMeter
from bulksend.core.templates import missing_values, placeholders, render
from bulksend.errors import InputError
from bulksend.journal import store
from bulksend.journal.records import CampaignRecord, ListSource
from bulksend.recipients import Block, RecipientSource, load_numbers, read_blocks

CHUNK = 20_000
READ_BLOCK = 2_048


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
                         "read it again from the start (nothing of it was sent yet)")
    return False


class Stager:
    """Stages one campaign's list; ``step`` until ``done``."""

    def __init__(self, campaign: CampaignRecord, meter: BodyMeter, chunk: int = CHUNK,
                 block: int = READ_BLOCK) -> None:
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
        self.read = self.invalid = self.excluded = 0
        self._blocks: Iterator[Block] | None = None
        self._excluded: set[str] = set()

    def step(self, conn: sqlite3.Connection) -> bool:
        """Stage the next chunk; returns ``done``. Runs on the journal's thread."""
        if self._blocks is None:
            for path in self.exclude:
                self._excluded |= load_numbers(RecipientSource(path))
            self._blocks = read_blocks(self.source, wanted=self.keys, size=self.block)
        rows: list[tuple[int, int, str | None, int]] = []
        rejects: list[tuple[int, int, str, str]] = []
        counters = [0, 0, 0]
        last = self.skip_to
        while len(rows) < self.chunk:
            block = next(self._blocks, None)
            if block is None:
                self.done = True
                break
            last = max(last, self._take(block, rows, rejects, counters))
        if rows or rejects or counters[0] or self.done:
            store.stage_rows(conn, self.cid, rows, rejects, (counters[0], counters[1], counters[2]), last, 0.0)
        self.skip_to = last
        self.read += counters[0]
        self.invalid += counters[1]
        self.excluded += counters[2]
        return self.done

    def _take(self, block: Block, rows: list[tuple[int, int, str | None, int]],
              rejects: list[tuple[int, int, str, str]], counters: list[int]) -> int:
        recipients, errors = block
        skip = self.skip_to
        if not (errors or self.keys or self._excluded) and recipients and recipients[0].line > skip:
            # The common block: a static body, clean lines, no opt-outs, nothing to skip.
            cid = self.cid
            problem = self.meter.add(self.body, len(recipients))
            if problem:
                raise InputError(problem)
            rows.extend([(cid, int(r.msisdn), None, r.line) for r in recipients])
            counters[0] += len(recipients)
            return recipients[-1].line
        last = 0
        for err in errors:
            last = max(last, err.line)
            if err.line > skip:
                counters[0] += 1
                counters[1] += 1
                rejects.append((self.cid, err.line, err.value, err.reason))
        cid, keys, excluded = self.cid, self.keys, self._excluded
        static: list[tuple[int, int, str | None, int]] = []
        for r in recipients:
            line = r.line
            if line > last:
                last = line
            if line <= skip:
                continue
            counters[0] += 1
            if excluded and r.msisdn in excluded:
                counters[2] += 1
                continue
            if keys:
                problem = self._problem(r.params, keys)
                if problem:
                    counters[1] += 1
                    rejects.append((cid, line, r.msisdn, problem))
                    continue
                rows.append((cid, int(r.msisdn), orjson.dumps(r.params).decode() if r.params else None, line))
            else:
                static.append((cid, int(r.msisdn), None, line))
        if static:
            problem = self.meter.add(self.body, len(static))
            if problem:
                raise InputError(problem)
            rows.extend(static)
        return last

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
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(("source", "line", "value", "reason"))
            writer.writerows((display, line, value, reason) for line, value, reason in rows)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the rejects file: {exc.strerror}") from None
    return len(rows)
