"""What one block of a campaign's list adds to the journal, as the journal stores it.

The block was screened by the one intake (``bulksend.lists.screen``);
``Taken`` is its ``Screened`` with the rejects as rows of the ``rejects``
table and the counters the campaign row adds up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bulksend.core.seen import Keys
from bulksend.lists.screen import ListCounts, Screened
from bulksend.models import Recipient

Reject = tuple[int, int, str, str]  # (campaign, line, value, reason)


@dataclass(slots=True)
class Taken:
    """What one block of the list adds to the campaign, as the journal stores it."""

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

    @classmethod
    def of(cls, cid: int, screened: Screened) -> Taken:
        c = screened.counts
        rejects = [(cid, r.line, r.value, r.reason) for r in screened.rejects]
        return cls(screened.recipients, screened.numbers, rejects, c.read, c.invalid, c.excluded,
                   c.duplicates, screened.line_done)

    @property
    def counts(self) -> ListCounts:
        return ListCounts(self.read, self.invalid, self.excluded, self.duplicates)
