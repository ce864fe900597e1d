"""One bulksend at a time per journal *file*, however it is named.

SQLite's own locks would let two senders interleave (each waiting for the
other's commits), and ``busy_timeout`` turns a long wait into a hang. A
second bulksend on the same journal is almost always a mistake, so the
sender takes an exclusive ``flock`` on the database file itself and a
second one is told at once who holds it.

The lock is on the file, not on a name beside it: a symlink, a hard link,
a relative or an absolute path all reach the same inode and so meet the
same lock (a lock file named ``<path>.lock`` let two senders through a
symlink both run). ``flock`` locks are separate from the POSIX record
locks SQLite takes on the same file, so the two never interfere; the one
rule is that the descriptor holding the lock is closed only after SQLite's
connection is (closing any descriptor of a file drops the process's POSIX
locks on it). The kernel drops the lock when the process dies, SIGKILL
included, so a crash never leaves a stale lock behind.

Only a regular file can be a journal: a device (``/dev/null``), a FIFO or
a directory is refused before anything is created next to it. A file with
hard links is refused too (once the lock says no one else has it open):
SQLite keeps the write-ahead log beside the *name* it opened, so a reader
or writer through another name would not see the last commits, and could
damage the file by writing without them.

Who holds the lock is read from ``/proc/locks`` (Linux), by device and
inode, so it names the holder whatever path it opened the file by.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
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


class NotAFile(Exception):
    """The journal path names something that is not a regular file."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what it is ("a character device", ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path) -> bool:
    """Refuse a path that exists and is not a regular file; True if it exists."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    kind = kind_of(st.st_mode)
    if kind is not None:
        raise NotAFile(kind)
    return True


class HardLinked(Exception):
    """The journal file has more than one name: SQLite finds its WAL by name, so it must have one."""

    def __init__(self, links: int) -> None:
        self.links = links
        super().__init__(links)


def _one_name(fd: int) -> None:
    links = os.fstat(fd).st_nlink
    if links > 1:
        raise HardLinked(links)


class JournalFileLock:
    """A descriptor on the journal file, held as long as the journal is open.

    ``acquire`` (a sender) creates the file (0600) if needed and locks it
    exclusively; ``open_shared`` (a reader) only opens it, to check that it
    is a regular file with one name and stays the file SQLite opens. Close
    it with ``release`` after the SQLite connection.
    """

    __slots__ = ("_fd", "path")

    def __init__(self, journal_path: Path) -> None:
        self.path = journal_path
        self._fd: int | None = None

    def acquire(self) -> None:
        check_regular(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open(os.O_RDWR | os.O_CREAT)
        if fcntl is None:  # pragma: no cover
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder_of(os.fstat(fd)) or "another process"
            self.release()
            raise LockHeld(holder) from None
        self._checked(_one_name)

    def open_shared(self) -> None:
        """A reader's descriptor (no lock taken): the file must exist and be regular."""
        check_regular(self.path)
        self._open(os.O_RDONLY)
        self._checked(_one_name)

    def _checked(self, check: Callable[[int], None]) -> None:
        assert self._fd is not None
        try:
            check(self._fd)
        except BaseException:
            self.release()
            raise

    def _open(self, flags: int) -> int:
        fd = os.open(self.path, flags | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0), 0o600)
        kind = kind_of(os.fstat(fd).st_mode)  # what was opened, not what stat saw a moment before
        if kind is not None:
            os.close(fd)
            raise NotAFile(kind)
        self._fd = fd
        return fd

    def same_file(self) -> bool:
        """The path still names the file this descriptor is on (nothing was swapped in between)."""
        if self._fd is None:
            return True
        a, b = os.fstat(self._fd), os.stat(self.path)
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def held_by(journal_path: Path) -> str | None:
    """Who holds the journal's lock right now, or None (for ``status``; Linux)."""
    try:
        return _holder_of(os.stat(journal_path))
    except OSError:
        return None


def _holder_of(st: os.stat_result) -> str | None:
    """``pid N`` of the process with an exclusive flock on that file, from ``/proc/locks``."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2d:123 0 EOF"; "->" marks a waiter
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[2] == "->" or fields[3] != "WRITE":
            continue
        try:
            major, minor, ino = fields[5].split(":")
            where = (int(major, 16), int(minor, 16), int(ino))
        except ValueError:
            continue
        if where == want:
            return f"pid {fields[4]}"
    return None
