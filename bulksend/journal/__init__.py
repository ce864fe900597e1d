"""The campaign journal: crash-safe campaigns in one SQLite file per workspace.

::

    from bulksend.journal import Journal, JournalSettings, RunOptions, resume_campaign, send_journaled

Every recipient and every batch of a campaign is written down: a batch is
recorded in flight before its request leaves and its outcome when the
answer comes, so a campaign stopped in any way (Ctrl-C, SIGKILL, a reboot)
goes on where it stopped, messaging no one twice and losing no one. See
``runner`` for the steps of a run, ``service`` for the entry points, and ``schema`` for the tables.
"""

from bulksend.journal.journal import DEFAULT_PATH, Journal, JournalError
from bulksend.journal.ledger import JournalLedger
from bulksend.journal.lookup import JournalLookup
from bulksend.journal.records import BatchState, CampaignRecord, CampaignState, Counts
from bulksend.journal.runner import JournalSummary, RunOptions
from bulksend.journal.service import resume_campaign, send_journaled
from bulksend.journal.settings import JournalSettings, journal_settings
from bulksend.journal.signals import StopSignals

__all__ = [
    "DEFAULT_PATH", "BatchState", "CampaignRecord", "CampaignState", "Counts", "Journal", "JournalError",
    "JournalLedger", "JournalLookup", "JournalSettings", "JournalSummary", "RunOptions", "StopSignals", "journal_settings",
    "resume_campaign", "send_journaled",
]
