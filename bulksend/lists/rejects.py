"""The rejects file: one row per list line that was not sent, and why.

Every path writes it through ``RejectsFile`` (the run without a journal and
``--dry-run`` as they read, the journal from its ``rejects`` table), so the
same list gives the same file, byte for byte.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from bulksend.errors import InputError, RecipientError

HEADER = ("source", "line", "value", "reason")


class RejectsFile:
    """``source,line,value,reason`` rows, in list order; the file is created
    (0600: it holds phone numbers) at the first reject, never when there is none."""

    __slots__ = ("_file", "_writer", "path", "rows")

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.rows = 0
        self._file: IO[str] | None = None
        self._writer: Any = None

    def write(self, rejects: Iterable[RecipientError]) -> None:
        if self.path is None:
            return
        rows = [(r.source, r.line, r.value, r.reason) for r in rejects]
        if not rows:
            return
        if self._writer is None:
            self._open(self.path)
        self._writer.writerows(rows)
        self.rows += len(rows)

    def _open(self, path: str) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise InputError(f"{path}: cannot write the rejects file: {exc.strerror}") from None
        self._file = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 (kept open across blocks)
        self._writer = csv.writer(self._file)
        self._writer.writerow(HEADER)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
