"""Recipient lists: reading them (``sources``), checking them to their end
before anything is sent (``scan``; ``spool`` copies stdin and pipes aside
for it), screening them (``screen``: the one intake every path uses) and the
rejects file (``rejects``).

Imports only ``core``, ``models``, ``errors`` and ``config``.
"""

from bulksend.lists.rejects import RejectsFile
from bulksend.lists.screen import ListCounts, Screened, Screener, no_value_text
from bulksend.lists.sources import RecipientSource, read_blocks, read_recipients

__all__ = ["ListCounts", "RecipientSource", "RejectsFile", "Screened", "Screener", "no_value_text",
           "read_blocks", "read_recipients"]
