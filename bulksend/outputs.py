"""The one rule for files bulksend writes (results, rejects, reports).

1. An output is never an input of the run: the recipient list, an exclude
   list, the config, the journal (or its ``-wal``/``-shm``). Compared by
   what the file *is* (device and inode), not by name, so a symlink, a hard
   link or ``./list.csv`` against ``list.csv`` are all caught.
2. An existing file is never overwritten without ``--force``.
3. Every output is checked before the first batch leaves: its folder exists
   and can be written (or, under ``--force``, the file itself can be).
4. Files are created 0600: results, rejects and reports hold phone numbers.

``check_outputs`` applies 1-3 and raises ``InputError`` (exit 2, one line
naming the option and the file); ``open_private`` and ``create_private``
open a checked output. ``-`` (stdout) and existing devices or FIFOs
(``/dev/null``, ``/dev/stdout``) are taken as they are: writing to them
destroys nothing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from typing import IO

from bulksend.errors import InputError

PRIVATE = 0o600


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def journal_files(path: str | os.PathLike[str] | None) -> list[str]:
    """A journal and the files SQLite keeps beside it: all inputs of a run."""
    if path is None:
        return []
    return [str(path), f"{path}-wal", f"{path}-shm"]


def check_outputs(outputs: Mapping[str, str | None], inputs: Iterable[str | os.PathLike[str] | None], *,
                  force: bool = False) -> None:
    """Refuse, before anything is sent, an output that is an input, is another output,
    exists (without ``force``) or cannot be written. ``outputs`` maps the option
    (``--results``) to its path; ``None`` and ``-`` are skipped."""
    known: dict[tuple[int, int], str] = {}
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        ident = _identity(str(given))
        if ident is not None:
            known.setdefault(ident, str(given))
    planned: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None or path == "-":
            continue
        where = f"{flag} {path}"
        ident = _identity(path)
        if ident is not None and ident in known:
            raise InputError(f"{where} is {known[ident]}, an input of this run; write it to another file")
        same = planned.get(os.path.realpath(path))
        if same is not None:
            raise InputError(f"{where} is also {same}; give each output its own file")
        planned[os.path.realpath(path)] = flag
        _check_writable(where, path, force)


def _check_writable(where: str, path: str, force: bool) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"{where}: cannot be written ({exc.strerror})") from None
    if st is None:
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise InputError(f"{where}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"{where}: folder {folder} cannot be written")
        return
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{where} is a folder; give a file name")
    if stat.S_ISREG(st.st_mode) and not force:
        raise InputError(f"{where} exists; pass --force to overwrite it")
    if not os.access(path, os.W_OK):
        raise InputError(f"{where} cannot be written")


def _open(path: str, flags: int) -> IO[str]:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, a FIFO: write to it as it is
        flags &= ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC)
    fd = os.open(path, flags | os.O_WRONLY | os.O_CLOEXEC, PRIVATE)
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchmod(fd, PRIVATE)  # an overwritten file (--force) holds phone numbers now too
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def open_private(path: str) -> IO[str]:
    """Open an output ``check_outputs`` accepted: created or truncated, 0600."""
    return _open(path, os.O_CREAT | os.O_TRUNC)


def create_private(path: str, force: bool = False) -> IO[str]:
    """Create a file 0600; an existing one only with ``force`` (then truncated)."""
    try:
        return _open(path, os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL))
    except FileExistsError:
        raise InputError(f"{path} exists; pass --force to overwrite it") from None


def append_private(path: str) -> IO[bytes]:
    """Open a log for appending (``listen``'s inbound log); created 0600, as it holds phone numbers."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, PRIVATE), "ab")
