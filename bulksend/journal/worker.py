"""One thread that owns the journal's connection, with group commit.

Every SQL call runs on this thread, so the event loop never waits on disk
and the connection is only ever used by the thread that opened it. Jobs
queue up while a transaction commits; the next transaction takes all of
them at once (up to ``MAX_GROUP``), so under load many batch records share
one commit. A job's future resolves only after its transaction committed:
``before_send`` returning means the batch is on disk.

Answers to an event loop are handed over once per group (one
``call_soon_threadsafe`` for all of them), not once per job: with one
recipient per request, the hand-over is most of a record's cost.

A write job that fails is rolled back on its own (a savepoint) and its
future gets the error; the others in the group commit.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

MAX_GROUP = 256

Translate = Callable[[BaseException], BaseException]
_Answer = tuple["asyncio.Future[Any]", Any, "BaseException | None"]


class _Job:
    __slots__ = ("fn", "args", "write", "future", "afuture", "droppable")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], write: bool,
                 afuture: asyncio.Future[Any] | None = None, droppable: bool = False) -> None:
        self.fn = fn
        self.args = args
        self.write = write
        self.future: Future[Any] | None = None if afuture is not None else Future()
        self.afuture = afuture
        #: skip it if its caller gave up before it started
        self.droppable = droppable

    def start(self) -> bool:
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        assert self.afuture is not None
        return not (self.droppable and self.afuture.cancelled())


#: how much lower this thread's scheduling priority is than the event loop's
NICENESS = 5


def _yield_to_the_loop() -> None:
    """Give the journal's thread a lower priority than the event loop's (Linux).

    On a machine with as many busy threads as cores, a journal thread woken
    for a record would otherwise preempt the event loop's thread while that
    one holds the interpreter lock, and both wait. Niced, it runs when a core
    is free; it is never starved, only second in line.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run as is
        pass


def _deliver(answers: list[_Answer]) -> None:  # on the event loop
    for future, value, error in answers:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class SqliteWorker:
    """Runs functions ``fn(conn, *args)`` on a dedicated thread."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], translate: Translate,
                 name: str = "bulksend-journal") -> None:
        self._connect = connect
        self._translate = translate
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._opened: Future[None] = Future()
        self._closed: Future[None] = Future()
        self._answers: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> Future[None]:
        self._thread.start()
        return self._opened

    def submit(self, fn: Callable[..., Any], *args: Any, write: bool = False) -> Future[Any]:
        """Queue ``fn``; a ``concurrent.futures.Future`` of its result."""
        job = _Job(fn, args, write)
        self._queue.put(job)
        assert job.future is not None
        return job.future

    def submit_async(self, fn: Callable[..., Any], *args: Any, write: bool = False,
                     droppable: bool = False) -> asyncio.Future[Any]:
        """Queue ``fn`` from an event loop; an asyncio future of its result.

        ``droppable``: if the caller is cancelled before the job started, the
        job is skipped; otherwise it runs (and commits) whatever the caller does.
        """
        future = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, args, write, future, droppable))
        return future

    def stop(self) -> Future[None]:
        """Finish the queued jobs, close the connection, end the thread."""
        self._queue.put(None)
        return self._closed

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread --------------------------------------------------------
    def _main(self) -> None:
        _yield_to_the_loop()
        try:
            conn = self._connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the opener
            if not self._opened.cancelled():  # the opener may have given up (cancelled) meanwhile
                self._opened.set_exception(self._translate(exc))
            self._drain_failing(exc)
            return
        if not self._opened.cancelled():
            self._opened.set_result(None)
        try:
            self._serve(conn)
        finally:
            try:
                conn.close()
            finally:
                self._hand_over()
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
            self._run_group(conn, [j for j in group if j.start()])
            self._hand_over()
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
            if len(group) == 1:  # alone: its failure rolls back the whole transaction anyway
                value, error = self._call(conn, group[0])
                if error is not None:
                    raise error
                outcomes.append((group[0], value, None))
            else:
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

    def _settle(self, job: _Job, value: Any, error: BaseException | None) -> None:
        if job.future is not None:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
            return
        assert job.afuture is not None
        self._answers.setdefault(job.afuture.get_loop(), []).append((job.afuture, value, error))

    def _hand_over(self) -> None:
        """One wake-up per event loop for all the answers of a group."""
        answers, self._answers = self._answers, {}
        for loop, items in answers.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _drain_failing(self, exc: BaseException) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.start():
                self._settle(job, None, self._translate(exc))
        self._hand_over()
        self._closed.set_result(None)
