"""Opening a SQLite file only to read it: ``status``, ``report``, the delivery summary.

``mode=ro`` means the reader never writes, never creates a table, never
migrates: it works on a full disk and on a file it may not write. On a
read-only *file system* SQLite cannot create the WAL's shared-memory index
beside the file; when no log is waiting there (a clean close leaves none),
nothing can change the file, so it is opened as ``immutable``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote


def connect_read_only(path: str | Path, timeout: float = 5.0) -> sqlite3.Connection:
    path = Path(path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, timeout=timeout, isolation_level=None, uri=True, check_same_thread=False)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if not _frozen(path):
            raise
    return sqlite3.connect(uri + "&immutable=1", timeout=timeout, isolation_level=None, uri=True,
                           check_same_thread=False)


def _frozen(path: Path) -> bool:
    """Nobody can write the file (a read-only file system) and no log is waiting beside it."""
    try:
        readonly_fs = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
        wal = Path(f"{path}-wal")
        return readonly_fs and (not wal.exists() or wal.stat().st_size == 0)
    except OSError:
        return False
