"""One bulksend at a time per journal: an advisory lock beside the file.

SQLite's own locks would let two senders interleave (each waiting for the
other's commits), and ``busy_timeout`` turns a long wait into a hang. A
second bulksend on the same journal is almost always a mistake, so the
sender takes ``<journal>.lock`` with ``flock`` and a second one is told at
once who holds it. The kernel drops the lock when the process dies, SIGKILL
included, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy timeout is the only guard
    fcntl = None  # type: ignore[assignment]


class LockHeld(Exception):
    """Another process holds the journal."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(holder)


class WorkspaceLock:
    __slots__ = ("path", "_fd")

    def __init__(self, journal_path: Path) -> None:
        self.path = journal_path.with_name(journal_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise LockHeld(holder or "another process") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def held_by(journal_path: Path) -> str | None:
    """Who holds the journal's lock right now, or None (for ``status``)."""
    if fcntl is None:  # pragma: no cover
        return None
    lock = journal_path.with_name(journal_path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
    finally:
        os.close(fd)
    return None
