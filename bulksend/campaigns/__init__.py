"""Campaign use cases on top of the journal: run, resume, reconcile, cancel,
schedule, status, reports and stop signals.

::

    from bulksend.campaigns import JournalSettings, RunOptions, resume_campaign, send_journaled

``bulksend.journal`` is storage only (schema, SQL, the writer thread, the
lock); everything that decides what a campaign does next lives here. See
``runner`` for the steps of a run and ``service`` for the entry points.
"""

from bulksend.campaigns.journal_ledger import JournalLedger
from bulksend.campaigns.runner import JournalSummary, RunOptions
from bulksend.campaigns.service import resume_campaign, send_journaled
from bulksend.campaigns.signals import StopSignals
from bulksend.journal.settings import JournalSettings, journal_settings

__all__ = [
    "JournalLedger", "JournalSettings", "JournalSummary", "RunOptions", "StopSignals", "journal_settings",
    "resume_campaign", "send_journaled",
]
