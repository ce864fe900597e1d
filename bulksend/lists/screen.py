"""The one intake: every path that reads a campaign's list screens it here.

Theory of operation
-------------------
The run without a journal, journal staging, preflight and ``--dry-run``
all read a list through ``Screener``, so they count, reject and meter the
same lines the same way. A block of the list (``sources.read_blocks``)
goes through, in this order:

1. lines at or before ``skip_to`` are passed over (staged by an earlier
   run of a journaled campaign; counted then);
2. bad lines (the reader's ``RecipientError``) are rejected: ``invalid``;
3. numbers on the exclude lists are dropped: ``excluded``;
4. a templated body is filled and measured for each recipient: a key with
   no value, or a body over the limits, is rejected (``invalid``), or with
   ``refuse`` refuses the whole campaign (``InputError``);
5. numbers the campaign already has (``SeenNumbers``, seeded from the
   journal on resume) are dropped: ``duplicates``; the first occurrence
   that passed 2-4 is the one kept;
6. the meter counts the parts of what is left, exactly what would be sent.

A block's rejects come out sorted by line, so the rejects file lists them
in file order whatever the block size. A clean block of a static body
with no exclusions (most blocks of most lists) skips 2-4: it is numbers
the reader's numpy pass already made, deduplicated in one numpy call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bulksend.core.estimate import BodyMeter
from bulksend.core.seen import Keys, SeenNumbers
from bulksend.core.segments import SegmentInfo
from bulksend.core.templates import missing_values, placeholders, render
from bulksend.errors import InputError, RecipientError
from bulksend.lists.rejects import RejectsFile
from bulksend.lists.sources import (
    BLOCK,
    Block,
    RecipientSource,
    load_numbers,
    read_blocks,
)
from bulksend.models import Numbers, Recipient, keep_only, keys_of, numbers_of


def no_value_text(missing: Iterable[str]) -> str:
    """The reason a recipient is rejected when a ``${key}`` has no value."""
    return "no value for " + ", ".join(f"${{{k}}}" for k in missing)


@dataclass(slots=True)
class ListCounts:
    """Lines read, and how many of them were invalid, excluded or repeated."""

    read: int = 0
    invalid: int = 0
    excluded: int = 0
    duplicates: int = 0

    def add(self, other: ListCounts) -> None:
        self.read += other.read
        self.invalid += other.invalid
        self.excluded += other.excluded
        self.duplicates += other.duplicates

    @property
    def kept(self) -> int:
        """Recipients that would be messaged."""
        return self.read - self.invalid - self.excluded - self.duplicates


@dataclass(slots=True)
class Screened:
    """What one block of the list adds to a campaign."""

    #: the new recipients, in list order (``Numbers`` when the body is static)
    recipients: Sequence[Recipient]
    #: their numbers as int64 keys
    numbers: Keys
    rejects: list[RecipientError]
    counts: ListCounts = field(default_factory=ListCounts)
    #: the last list line this block covers
    line_done: int = 0


class Screener:
    """Screens one campaign's list, block by block (see the module docstring)."""

    def __init__(self, source: RecipientSource, body: str, defaults: Mapping[str, str], meter: BodyMeter, *,
                 exclude: Iterable[RecipientSource] = (), seen: SeenNumbers | None = None,
                 skip_to: int = 0, refuse: bool = False) -> None:
        self.source = source
        self.body = body
        self.defaults = defaults
        self.keys = placeholders(body)
        self.meter = meter
        self.exclude = tuple(exclude)
        self.seen = seen if seen is not None else SeenNumbers()
        self.skip_to = skip_to
        self.refuse = refuse
        self.counts = ListCounts()
        self._excluded: set[str] | None = None

    def open(self) -> None:
        """Read the exclude lists (once)."""
        if self._excluded is None:
            self._excluded = set()
            for source in self.exclude:
                self._excluded |= load_numbers(source)

    def blocks(self, size: int = BLOCK) -> Iterator[Screened]:
        """The whole list, screened, ``size`` lines a block."""
        self.open()  # a missing exclude list is reported before anything is read
        for block in read_blocks(self.source, wanted=self.keys, size=size):
            yield self.screen(block)

    def run(self, rejects: RejectsFile | None = None, size: int = BLOCK) -> ListCounts:
        """Screen the whole list, writing its rejects; returns the counts (a dry run)."""
        for screened in self.blocks(size):
            if rejects is not None:
                rejects.write(screened.rejects)
        return self.counts

    def screen(self, block: Block) -> Screened:
        """One block: counted, its bad lines rejected, opt-outs and repeats dropped, metered."""
        self.open()
        recipients, errors = block
        skip = self.skip_to
        if not (errors or self.keys or self._excluded) and recipients and recipients[0].line > skip:
            out = Screened(recipients, keys_of(recipients), [], ListCounts(read=len(recipients)),
                           recipients[-1].line)
            infos: list[SegmentInfo] | None = None
        else:
            out, infos = self._screen_lines(recipients, errors)
        if out.recipients and not self.keys:
            problem = self.meter.measure(self.body)[1]
            if problem:
                raise InputError(problem)
        self._drop_seen(out, infos)
        self.skip_to = max(skip, out.line_done)
        self.counts.add(out.counts)
        return out

    def _screen_lines(self, recipients: Sequence[Recipient], errors: list[RecipientError]
                      ) -> tuple[Screened, list[SegmentInfo] | None]:
        """The careful path: line by line, for a block with anything to take out."""
        skip = self.skip_to
        # Recipients come in line order (bad lines need not: a reader may report some late).
        last = max(max((e.line for e in errors), default=0), recipients[-1].line if recipients else 0)
        out = Screened((), keys_of(()), [], ListCounts(), max(skip, last))
        counts, rejects = out.counts, out.rejects
        for err in errors:
            if err.line > skip:
                counts.read += 1
                rejects.append(err)
        keys, excluded = self.keys, self._excluded
        infos: list[SegmentInfo] | None = [] if keys else None
        kept: list[Recipient] = []
        for r in recipients:
            line = r.line
            if line <= skip:
                continue
            counts.read += 1
            if excluded and r.msisdn in excluded:
                counts.excluded += 1
                continue
            if infos is not None:
                measured = self._measured(r, keys)
                if isinstance(measured, str):
                    rejects.append(RecipientError(measured, r.msisdn, line, self.source.display))
                    continue
                infos.append(measured)
            kept.append(r)
        counts.invalid = len(rejects)
        rejects.sort(key=_line_of)
        out.recipients = kept
        out.numbers = keys_of(kept)
        return out, infos

    def _measured(self, r: Recipient, keys: tuple[str, ...]) -> SegmentInfo | str:
        """This recipient's body measured, or why it cannot be sent."""
        missing = missing_values(keys, r.params, self.defaults)
        if missing:
            return no_value_text(missing)
        info, problem = self.meter.measure(render(self.body, r.params, self.defaults))
        if problem and self.refuse:
            raise InputError(f"{self.source.display}:{r.line}: {r.msisdn}: {problem}; nothing was sent")
        return problem or info

    def _drop_seen(self, out: Screened, infos: list[SegmentInfo] | None) -> None:
        """Drop numbers the campaign already has, then meter what is left."""
        fresh = self.seen.take(out.numbers)
        if not fresh.all():
            keep = fresh.tolist()
            out.recipients = keep_only(out.recipients, keep)
            out.numbers = out.numbers[fresh]
            out.counts.duplicates = len(keep) - len(out.numbers)
            if infos is not None:
                infos = [info for info, k in zip(infos, keep) if k]
        tally = self.meter.tally
        if infos is None:
            if out.recipients:
                tally.add(self.meter.measure(self.body)[0], len(out.recipients))
            if not isinstance(out.recipients, Numbers):
                out.recipients = Numbers(numbers_of(out.recipients))
        else:
            for info in infos:
                tally.add(info)


def _line_of(err: RecipientError) -> int:
    return err.line

