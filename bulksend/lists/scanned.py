"""What the pre-scan (``scan``) found, kept per list for this process.

Its own module so that ``sources.count_lines`` can use the count the scan
made (the list is counted once) without ``sources`` importing ``scan``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bulksend.lists.spool import spooled


@dataclass(frozen=True, slots=True)
class ListScan:
    """What the pre-scan found: the list reads to its end, and how many lines it has."""

    path: str
    #: lines in the file (a last line without a newline counts)
    lines: int
    #: lines that can hold a recipient: ``lines`` less a CSV header
    data_lines: int


_DONE: dict[tuple[str, int, int], ListScan] = {}


def _key(path: str) -> tuple[str, int, int] | None:
    target = spooled(path) or path
    if target == "-":
        return None
    try:
        st = os.stat(target)
    except OSError:
        return None
    return os.path.realpath(path if path != "-" else target), st.st_size, st.st_mtime_ns


def scanned(path: str) -> ListScan | None:
    """The scan of ``path`` made in this process, if it has not changed since."""
    key = _key(path)
    return _DONE.get(key) if key else None


def remember(found: ListScan) -> ListScan:
    key = _key(found.path)
    if key is not None:
        _DONE[key] = found
    return found
