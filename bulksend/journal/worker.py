"""One thread that owns the journal's connection, with group commit.

Every SQL call runs on this thread, so the event loop never waits on disk
and the connection is only ever used by the thread that opened it. Jobs
queue up while a transaction commits; the next transaction takes all of
them at once (up to ``MAX_GROUP``), so under load many batch records share
one commit. A job's future resolves only after its transaction committed:
``before_send`` returning means the batch is on disk.

Each write job runs inside a savepoint: a job that fails is rolled back on
its own and its future gets the error; the others in the group commit.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

MAX_GROUP = 256

Translate = Callable[[BaseException], BaseException]


class _Job:
    __slots__ = ("fn", "args", "future", "write")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], write: bool) -> None:
        self.fn = fn
        self.args = args
        self.future: Future[Any] = Future()
        self.write = write


class SqliteWorker:
    """Runs functions ``fn(conn, *args)`` on a dedicated thread."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], translate: Translate,
                 name: str = "bulksend-journal") -> None:
        self._connect = connect
        self._translate = translate
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._opened: Future[None] = Future()
        self._closed: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> Future[None]:
        self._thread.start()
        return self._opened

    def submit(self, fn: Callable[..., Any], *args: Any, write: bool = False) -> Future[Any]:
        job = _Job(fn, args, write)
        self._queue.put(job)
        return job.future

    def stop(self) -> Future[None]:
        """Finish the queued jobs, close the connection, end the thread."""
        self._queue.put(None)
        return self._closed

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread --------------------------------------------------------
    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the opener
            self._opened.set_exception(self._translate(exc))
            self._drain_failing(exc)
            return
        self._opened.set_result(None)
        try:
            self._serve(conn)
        finally:
            try:
                conn.close()
            finally:
                self._closed.set_result(None)

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            group = [job]
            stopping = False
            while len(group) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
            self._run_group(conn, [j for j in group if j.future.set_running_or_notify_cancel()])
            if stopping:
                return

    def _run_group(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        if not any(j.write for j in group):
            for job in group:
                self._settle(job, *self._call(conn, job))
            return
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                outcomes.append((job, *self._in_savepoint(conn, job)))
            conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - the whole group failed; every job hears it
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            failure = self._translate(exc)
            done = {id(job) for job, _v, _e in outcomes}
            for job, value, error in outcomes:
                self._settle(job, None, error or failure) if job.write else self._settle(job, value, error)
            for job in group:
                if id(job) not in done:
                    self._settle(job, None, failure)
            return
        for job, value, error in outcomes:
            self._settle(job, value, error)

    def _in_savepoint(self, conn: sqlite3.Connection, job: _Job) -> tuple[Any, BaseException | None]:
        if not job.write:
            return self._call(conn, job)
        conn.execute("SAVEPOINT job")
        value, error = self._call(conn, job)
        if error is not None:
            try:
                conn.execute("ROLLBACK TO job")
            except sqlite3.Error:  # the error ended the whole transaction: the group fails with it
                raise error from None
        conn.execute("RELEASE job")
        return value, error

    def _call(self, conn: sqlite3.Connection, job: _Job) -> tuple[Any, BaseException | None]:
        try:
            return job.fn(conn, *job.args), None
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
            return None, self._translate(exc)

    @staticmethod
    def _settle(job: _Job, value: Any, error: BaseException | None) -> None:
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)

    def _drain_failing(self, exc: BaseException) -> None:
        self._closed.set_result(None)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(self._translate(exc))
