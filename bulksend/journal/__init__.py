"""The campaign journal's storage: one SQLite file per workspace.

::

    from bulksend.journal import Journal, JournalSettings

Every recipient and every batch of a campaign is written down: a batch is
recorded in flight before its request leaves and its outcome when the
answer comes. This package holds the schema (``schema``), the one place
that writes SQL (``store``), the writer thread (``worker``), the lock
(``lock``), blocks and records. What a campaign *does* with them (run,
resume, reconcile, cancel, schedule, status, reports) lives in
``bulksend.campaigns``.

The use-case names that used to live here (``send_journaled``,
``resume_campaign``, ``RunOptions``, ...) are still importable from this
package, loaded from ``bulksend.campaigns`` on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from bulksend.journal.journal import DEFAULT_PATH, Journal, JournalError
from bulksend.journal.lookup import JournalLookup
from bulksend.journal.records import BatchState, CampaignRecord, CampaignState, Counts
from bulksend.journal.settings import JournalSettings, journal_settings

#: names that moved to ``bulksend.campaigns``; the old imports keep working
_MOVED = frozenset({
    "JournalLedger", "JournalSummary", "RunOptions", "StopSignals", "resume_campaign", "send_journaled",
})

__all__ = [
    "DEFAULT_PATH", "BatchState", "CampaignRecord", "CampaignState", "Counts", "Journal", "JournalError",
    "JournalLookup", "JournalSettings", "journal_settings",
]


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module 'bulksend.journal' has no attribute {name!r}")
    return getattr(importlib.import_module("bulksend.campaigns"), name)
