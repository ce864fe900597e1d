"""A list that can be read only once (stdin, a pipe) copied to a private file.

Such a list cannot be checked to its end before the first batch leaves and
then read again, so it is copied first: to a file created 0600 (it holds
phone numbers) in the temp directory, removed when the process ends.
``open_text`` then reads the copy; names in messages stay the user's
(``<stdin>``, the pipe's path).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from typing import BinaryIO

_SPOOLS: dict[str, str] = {}


def spooled(path: str = "-") -> str | None:
    """The private copy of ``path`` (``-``: stdin), if one was made."""
    return _SPOOLS.get(path)


def spool(path: str = "-", stream: BinaryIO | None = None) -> str:
    """Copy ``path`` (``-``: stdin, or ``stream``) to a private file once; returns the copy's path."""
    done = _SPOOLS.get(path)
    if done is not None:
        return done
    fd, copy = tempfile.mkstemp(prefix="bulksend-list-", suffix=".gz" if path.endswith(".gz") else "")
    os.fchmod(fd, 0o600)
    atexit.register(_remove, copy)
    with os.fdopen(fd, "wb") as out:
        if path == "-":
            shutil.copyfileobj(stream or sys.stdin.buffer, out, 1 << 20)
        else:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    _SPOOLS[path] = copy
    return copy


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def forget() -> None:
    """Remove every copy (tests; the process's end does it otherwise)."""
    for copy in _SPOOLS.values():
        _remove(copy)
    _SPOOLS.clear()
