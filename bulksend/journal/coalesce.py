"""One journal job for many records of the same kind.

With a batch in flight every few hundred microseconds, one job per record
means one wake-up of the journal's thread, one interpreter-lock hand-over
and one answer per record, and the event loop's thread pays for each. A
``Coalescer`` instead keeps one *open* job per kind: records added while it
waits to start join it, and it writes them all with one ``executemany``.
Once the job has started, the next record opens a new one; so does
``seal``, for a record that must be written after some other job.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from bulksend.journal.worker import SqliteWorker

T = TypeVar("T")

WriteMany = Callable[[sqlite3.Connection, list[T]], None]


class _Open(Generic[T]):
    __slots__ = ("items", "future")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.future: asyncio.Future[Any] | None = None


class Coalescer(Generic[T]):
    """Writes ``fn(conn, items)``, gathering the items added while a job waits."""

    def __init__(self, worker: SqliteWorker, fn: WriteMany[T], on_error: Callable[[Future[Any]], None]) -> None:
        self._worker = worker
        self._fn = fn
        self._on_error = on_error
        self._lock = threading.Lock()
        self._open: _Open[T] | None = None
        self._open_posted: _Open[T] | None = None

    def add(self, item: T) -> asyncio.Future[Any]:
        """Queue ``item``; the future resolves once it is committed (await it shielded)."""
        with self._lock:
            group = self._open
            if group is None:
                group = self._open = _Open()
                group.future = self._worker.submit_async(self._run, group, write=True)
            group.items.append(item)
        assert group.future is not None
        return group.future

    def post(self, item: T) -> None:
        """Queue ``item`` without waiting for it; a failure reaches ``on_error``."""
        self.post_many((item,))

    def post_many(self, items: Iterable[T]) -> None:
        with self._lock:
            group = self._open_posted
            if group is None:
                group = self._open_posted = _Open()
                self._worker.submit(self._run, group, write=True).add_done_callback(self._on_error)
            group.items.extend(items)

    def seal(self) -> None:
        """Records added from now on go in a new job, queued after whatever is queued now."""
        with self._lock:
            self._open = None
            self._open_posted = None

    def withdraw(self, item: T, future: asyncio.Future[Any]) -> bool:
        """Take ``item`` back if its job has not started; True if it will not be written."""
        with self._lock:
            group = self._open
            if group is not None and group.future is future and item in group.items:
                group.items.remove(item)
                return True
        return False

    def _run(self, conn: sqlite3.Connection, group: _Open[T]) -> None:  # the journal's thread
        with self._lock:
            if self._open is group:
                self._open = None
            if self._open_posted is group:
                self._open_posted = None
            items = group.items
        if items:
            self._fn(conn, items)
