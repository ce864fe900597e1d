"""``Journal``: the campaign journal of one workspace, as async methods.

One SQLite file (WAL mode) per workspace, ``.bulksend/journal.db`` unless
told otherwise. All SQL runs on one worker thread (``SqliteWorker``), so the
event loop never blocks on the disk; writes are group-committed.

Every query is one function of ``store``, run here by one generic call::

    counts = await journal.read(store.counts, cid)
    await journal.write(store.set_state, cid, CampaignState.DONE, "", journal.clock())

so a new query is written once, in ``store``. The few methods left on
``Journal`` do more than run one function: they coalesce records
(``mark_in_flight``, ``post_settle``), post without waiting
(``post_rows``), or answer for a journal no campaign was written to yet
(``campaign``, ``campaigns``, and the delivery lookups).

Durability: ``synchronous = normal`` (the default) loses nothing a killed
process wrote (SIGKILL, OOM, a crash): a commit is in the WAL, in the
kernel's page cache, before its future resolves. A power cut or kernel
panic can lose the last commits; ``synchronous = full`` (``[journal]
synchronous = "full"``) makes each commit wait for the disk, at some cost
in commits per second.

Errors about the file itself (damaged, not a journal, locked, unwritable)
become ``JournalError`` with a one-line message naming the file; the file
is never rewritten to "fix" it.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from bulksend.errors import InputError, MachineFailure
from bulksend.journal import store
from bulksend.journal.coalesce import Coalescer
from bulksend.journal.lock import HardLinked, JournalFileLock, LockHeld, NotAFile
from bulksend.journal.readonly import connect_read_only
from bulksend.journal.records import BatchState, CampaignRecord, StagedBlock
from bulksend.journal.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from bulksend.journal.worker import SqliteWorker

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_PATH = ".bulksend/journal.db"
SYNCHRONOUS = ("normal", "full")
CACHE_KIB = 4_000
SETTLE_LINGER = 0.05
SETTLE_GROUP = 2048


class JournalError(InputError):
    """The journal file cannot be used as it is (exit 2). Names the file."""


class JournalWriteFailed(MachineFailure):
    """The disk under the journal failed a write (full, I/O error): the run stops, resumable (exit 75).

    Everything committed before it is on disk; nothing after it was recorded.
    """


#: SQLite's words for a failure of the machine rather than of the file
_MACHINE = ("disk is full", "disk I/O error", "database or disk is full")


class Journal:
    """Async access to a journal file. Use ``await Journal.open(path)``."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, synchronous: str = "normal",
                 busy_timeout: float = 5.0, readonly: bool = False, verify: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        if synchronous not in SYNCHRONOUS:
            raise JournalError(f"journal synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        #: run ``PRAGMA quick_check`` once at open (``send``/``resume``: a damaged file is refused)
        self.verify = verify
        self.clock = clock
        self.empty = False
        self._lock = JournalFileLock(self.path)
        self._worker = SqliteWorker(self._connect, self._translate)
        self._closed = False
        self._post_error: BaseException | None = None
        self._marks: Coalescer[store.Mark] = Coalescer(self._worker, store.mark_many, self._posted_done)
        self._settles: Coalescer[store.Settle] = Coalescer(self._worker, store.settle_many, self._posted_done)
        #: outcomes gathered on the event loop for up to SETTLE_LINGER seconds, then posted as one job
        self._settle_buffer: list[store.Settle] = []
        self._settle_timer: asyncio.TimerHandle | None = None

    @classmethod
    async def open(cls, path: str | Path = DEFAULT_PATH, **kw: Any) -> Journal:
        journal = cls(path, **kw)
        await asyncio.wrap_future(journal._worker.start())
        return journal

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait for every queued write, then close the file and its lock."""
        if self._closed:
            return
        self._flush_settles()
        self._closed = True
        if self._worker.alive:
            await asyncio.wrap_future(self._worker.stop())
        self._lock.release()
        self._raise_posted()

    # -- the worker's side --------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            if not self.path.exists():
                raise JournalError(f"no journal at {self.path} (nothing was sent with it; see --journal)")
            self._lock.open_shared()
        else:
            self._lock.acquire()  # creates the file 0600: SQLite gives -wal and -shm the same mode
        try:
            conn = self._sqlite()
        except BaseException:
            self._lock.release()
            raise
        try:
            if not self._lock.same_file():
                raise JournalError(f"journal {self.path} was replaced while it was being opened")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # reads the header first
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if self.readonly:
                conn.execute("PRAGMA query_only = 1")
                if version > SCHEMA_VERSION:
                    raise SchemaTooNew(f"journal schema version {version}; this bulksend reads up to {SCHEMA_VERSION}")
                self.empty = version == 0
            else:
                if self.verify and version:
                    self._quick_check(conn)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
                migrate(conn)
        except BaseException:
            conn.close()
            self._lock.release()
            raise
        return conn

    def _sqlite(self) -> sqlite3.Connection:
        if self.readonly:  # never writes: status and report work on a full disk, a read-only file
            return connect_read_only(self.path, self.busy_timeout)
        return sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)

    def _quick_check(self, conn: sqlite3.Connection) -> None:
        """Refuse a damaged file before anything is sent from it (O(pages); see the README)."""
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            found = " ".join("; ".join(problems).replace("*** in database main ***", "").split())
            raise sqlite3.DatabaseError(f"database disk image is malformed: quick_check: {found[:160]}")

    def _translate(self, exc: BaseException) -> BaseException:
        where = f"journal {self.path}"
        if isinstance(exc, (JournalError, store.InvariantError)):
            return exc
        if isinstance(exc, NotAFile):
            return JournalError(f"{where} is {exc.kind}, not a file; give --journal the path of a file")
        if isinstance(exc, HardLinked):
            return JournalError(f"{where} has {exc.links} names (hard links); SQLite keeps its log beside one "
                                "name, so a journal must have only one: remove the other links")
        if isinstance(exc, LockHeld):
            return JournalError(f"{where} is in use by another bulksend ({exc.holder}); "
                                "wait for it to finish or stop it (Ctrl-C) first")
        if isinstance(exc, SchemaTooNew):
            return JournalError(f"{where}: {exc}; upgrade bulksend")
        if isinstance(exc, BrokenPipeError):  # a report piped into `head`: not the journal's fault
            return exc
        if isinstance(exc, OSError):
            if exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
                return JournalWriteFailed(f"{where}: {exc.strerror or exc}; stopped, resume when it is fixed")
            return JournalError(f"{where}: {exc.strerror or exc}")
        if not isinstance(exc, sqlite3.Error):
            return exc
        text = str(exc)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return JournalError(f"{where} is damaged or not a bulksend journal ({text}); it was left as it "
                                "is: move it aside, or use --journal with another path")
        if "locked" in text or "busy" in text:
            return JournalError(f"{where} is locked by another program ({text} after {self.busy_timeout:g}s)")
        if "readonly" in text or "unable to open" in text:
            return JournalError(f"{where} cannot be written ({text})")
        if any(words in text for words in _MACHINE):
            return JournalWriteFailed(f"{where}: {text}; nothing after the last commit was recorded. "
                                      "Free space (or fix the disk), then 'bulksend resume'")
        return JournalError(f"{where}: {text}")

    # -- running store functions ---------------------------------------------
    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
                write: bool) -> asyncio.Future[T]:
        self._check_open()
        job = partial(fn, **kwargs) if kwargs else fn
        # A write runs (and commits) even if its caller is cancelled meanwhile:
        # a record the provider may act on must not be dropped.
        return self._worker.submit_async(job, *args, write=write)

    async def read(self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        """``fn(conn, *args)`` on the journal's thread: a query (``store.counts``, ...)."""
        return await self._submit(fn, args, kwargs, write=False)

    async def write(self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args,
                    **kwargs: P.kwargs) -> T:
        """``fn(conn, *args)`` on the journal's thread, in a transaction (``store.set_state``, ...).

        Returns once it is committed. Store functions that stamp a time take
        it as their ``now`` argument: pass ``journal.clock()``.
        """
        return await self._submit(fn, args, kwargs, write=True)

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        self._raise_posted()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a write without waiting for it; a failure is raised by the next call.

        For records whose loss a crash already covers (an outcome not yet on
        disk leaves its batch in flight, to be reconciled), so the sender
        does not wait on the disk for them. The queue is first in, first
        out: a later call sees every write posted before it.
        """
        self._raise_posted()
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        self._worker.submit(fn, *args, write=True).add_done_callback(self._posted_done)

    def _posted_done(self, future: Future[Any]) -> None:  # on the worker thread
        error = future.exception()
        if error is not None and self._post_error is None:
            self._post_error = error

    def _flush_settles(self) -> None:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        if self._settle_buffer:
            items, self._settle_buffer = self._settle_buffer, []
            self._settles.post_many(items)

    def _raise_posted(self) -> None:
        self._flush_settles()  # whatever comes next is queued after the outcomes posted before it
        if self._post_error is not None:
            error, self._post_error = self._post_error, None
            raise error

    async def call(self, fn: Callable[..., T], *args: Any, write: bool = False) -> T:
        """``read`` or ``write`` without the type check, for a job that is not one store
        function (staging a chunk, writing a report file)."""
        return await self._submit(fn, args, {}, write)

    # -- what needs more than one store function ------------------------------
    async def campaign(self, name: str) -> CampaignRecord | None:
        """The campaign of that name; None, too, in a journal no campaign was written to yet."""
        if self.empty:
            return None
        return await self.read(store.find_campaign, name)

    async def campaigns(self) -> list[CampaignRecord]:
        if self.empty:
            return []
        return await self.read(store.list_campaigns)

    # -- staging --------------------------------------------------------------
    def post_rows(self, cid: int, first: int, taken: StagedBlock, assign: store.Assignment | None) -> None:
        """Append a block of the list without waiting for the disk (see ``post``).

        The batches cut from it are only sent after ``mark_in_flight``
        found their members on disk.
        """
        self.post(store.append_rows, cid, first, taken, assign, self.clock())
        self._marks.seal()  # a batch marked from now on may be in this block: its mark comes after it

    def write_batches(self, cid: int, taken: StagedBlock, first: int, cut: Sequence[store.CutBatch],
                      params: str | None = None) -> asyncio.Future[None]:
        """Write a block of the list (ids from ``first``) as the batches cut from it, in
        flight, its members in one row (``store.append_batches``); the future says it is on disk."""
        self._check_open()
        return self._worker.submit_async(store.append_batches, cid, taken, first, cut, params, self.clock(),
                                         write=True)

    # -- sending --------------------------------------------------------------
    async def mark_in_flight(self, cid: int, seq: int, lo: int, hi: int, size: int, assigned: bool = False) -> None:
        """Record a batch in flight; returns once that is on disk.

        Batches marked while the previous write waits share one job. A caller
        cancelled before its job started is taken out of it (it never sends
        the batch either); after that, the batch stays in flight and is
        reconciled like any other.
        """
        self._check_open()
        item: store.Mark = (cid, seq, lo, hi, size, assigned, self.clock())
        future = self._marks.add(item)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            self._marks.withdraw(item, future)
            raise

    def post_settle(self, cid: int, seq: int, state: BatchState, provider_id: str, code: str, text: str,
                    attempts: int, tally: tuple[int, int, int],
                    per_recipient: Sequence[tuple[str, str, str, int]] = (), linger: bool = False) -> None:
        """``store.settle`` without waiting for the disk (see ``post``).

        With ``linger`` (for a provider that can be asked about a batch),
        outcomes are gathered on the event loop for up to ``SETTLE_LINGER``
        seconds (or ``SETTLE_GROUP`` of them) and written by one job: with one
        recipient a request there are thousands a second, and every job costs
        the event loop's thread a few hand-overs of the interpreter lock. An
        outcome a crash loses leaves its batch in flight, and the reconcile
        finds it accepted. Without ``linger`` it is posted at once: a provider
        that cannot be asked would leave that batch unknown. Any other call
        to the journal posts the gathered outcomes first, so it sees them.
        """
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        self._settle_buffer.append(
            (cid, seq, state, provider_id, code, text, attempts, tally, per_recipient, self.clock()))
        if not linger or len(self._settle_buffer) >= SETTLE_GROUP:
            self._flush_settles()
        elif self._settle_timer is None:
            self._settle_timer = asyncio.get_running_loop().call_later(SETTLE_LINGER, self._flush_settles)

    # -- what it tells ----------------------------------------------------------
    async def find_by_provider_id(self, provider_id: str, msisdn: str) -> tuple[str, str] | None:
        """``(campaign, msisdn)`` for a delivery report naming ``provider_id`` and a number.

        ``provider_id`` is what the provider answered: an XMS batch id (kept
        once per batch) or a per-recipient message id (kept per recipient).
        """
        if self.empty:
            return None
        return await self.read(store.find_by_provider_id, provider_id, msisdn)

    async def accepted_at(self, provider_id: str, msisdn: str) -> float | None:
        """When the provider accepted what ``provider_id`` names (for delivery latency)."""
        if self.empty:
            return None
        return await self.read(store.accepted_at, provider_id, msisdn)
