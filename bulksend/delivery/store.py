"""Where delivery reports and inbound messages are kept.

``DeliveryStore`` is the narrow protocol delivery tracking needs: record
what was sent (to tie reports to recipients), record reports and inbound
messages, and read counts and latencies back. ``SqliteDeliveryStore`` keeps
its own tables (``delivery_sent``, ``delivery_sent_batches``,
``delivery_reports``, ``inbound_messages``) and may share the journal's database file: it opens
its own connection, in WAL mode with a busy timeout, on its own worker
thread, and never touches another table.

Writes use group commit: callers wait for their rows, a single flusher
writes everything queued so far in one transaction, so a burst of webhook
calls costs one commit, and nothing is acknowledged before it is on disk.
A report never replaces a final status with a non-final one; between two
final statuses the later one (by the provider's time) wins.

What was sent is kept two ways: a batch accepted whole under one id is one
row of ``delivery_sent_batches`` (its numbers as one text, so recording
costs per batch, not per recipient); answers per recipient are
rows of ``delivery_sent``. Every reader asks the connection's ``sent_all``
view, which expands the batch rows and adds the per-recipient ones; a number
sent more than once counts once, under its latest acceptance.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from bulksend.errors import InputError
from bulksend.journal.lock import NotAFile, check_regular
from bulksend.journal.readonly import connect_read_only
from bulksend.delivery.model import DeliveryStatus, Inbound, Report, Sent
from bulksend.models import Numbers

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery_sent (
    campaign     TEXT NOT NULL,
    msisdn       TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    accepted_at  REAL NOT NULL,
    PRIMARY KEY (campaign, msisdn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivery_sent_by_provider_id ON delivery_sent (provider_id, msisdn);
CREATE TABLE IF NOT EXISTS delivery_sent_batches (
    id           INTEGER PRIMARY KEY,
    campaign     TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    accepted_at  REAL NOT NULL,
    numbers      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_sent_batches_by_provider_id ON delivery_sent_batches (provider_id);
CREATE INDEX IF NOT EXISTS delivery_sent_batches_by_campaign ON delivery_sent_batches (campaign);
CREATE TABLE IF NOT EXISTS delivery_reports (
    campaign         TEXT NOT NULL,
    msisdn           TEXT NOT NULL,
    status           TEXT NOT NULL,
    final            INTEGER NOT NULL,
    provider_status  TEXT NOT NULL DEFAULT '',
    code             TEXT NOT NULL DEFAULT '',
    at               REAL,
    received_at      REAL NOT NULL,
    provider_id      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign, msisdn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbound_messages (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    plan         TEXT NOT NULL,
    message_id   TEXT NOT NULL DEFAULT '',
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    body         TEXT NOT NULL,
    at           REAL,
    received_at  REAL NOT NULL,
    opt_out      INTEGER NOT NULL,
    keyword      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS inbound_messages_opt_out ON inbound_messages (opt_out, sender);
"""

_UPSERT_SENT = """
INSERT INTO delivery_sent (campaign, msisdn, provider_id, accepted_at) VALUES (?, ?, ?, ?)
ON CONFLICT (campaign, msisdn) DO UPDATE SET
    provider_id = excluded.provider_id, accepted_at = excluded.accepted_at
"""

#: a whole batch accepted under one id at one time: one row, its numbers as one text (see ``_numbers_text``)
_INSERT_SENT_BATCH = """
INSERT INTO delivery_sent_batches (campaign, provider_id, accepted_at, numbers) VALUES (?, ?, ?, ?)
"""

#: the one home of "what was sent": every accepted (campaign, msisdn, provider_id, accepted_at),
#: a temporary view on each connection (so a file is never changed to read it; a file written
#: before batches were kept whole has only ``delivery_sent``)
_SENT_ALL = """
CREATE TEMP VIEW IF NOT EXISTS sent_all AS
SELECT campaign, msisdn, provider_id, accepted_at FROM main.delivery_sent
"""
_SENT_ALL_BATCHES = """
UNION ALL
SELECT b.campaign, j.value, b.provider_id, b.accepted_at
FROM main.delivery_sent_batches AS b,
     json_each(CASE WHEN substr(b.numbers, 1, 1) = '[' THEN b.numbers
                    ELSE '["' || replace(b.numbers, char(10), '","') || '"]' END) AS j
"""


def _numbers_text(numbers: Sequence[str] | Numbers) -> str:
    """A batch's numbers as stored: the newline-joined text of numbers read from a clean
    block (digits only, checked by the reader: stored as it is, no string a number, and
    made a JSON array only when read), else a JSON array (it starts with ``[``)."""
    if isinstance(numbers, Numbers):
        clean = numbers.clean_text
        if clean is not None:
            return clean
        numbers = numbers.numbers
    return orjson.dumps(list(numbers)).decode()


_UPSERT_REPORT = """
INSERT INTO delivery_reports (campaign, msisdn, status, final, provider_status, code, at, received_at, provider_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign, msisdn) DO UPDATE SET
    status = excluded.status, final = excluded.final, provider_status = excluded.provider_status,
    code = excluded.code, at = excluded.at, received_at = excluded.received_at,
    provider_id = CASE WHEN excluded.provider_id <> '' THEN excluded.provider_id
                       ELSE delivery_reports.provider_id END
WHERE delivery_reports.final = 0
   OR (excluded.final = 1 AND COALESCE(excluded.at, excluded.received_at)
                              >= COALESCE(delivery_reports.at, delivery_reports.received_at))
"""

_INSERT_INBOUND = """
INSERT INTO inbound_messages (provider, plan, message_id, sender, recipient, body, at, received_at, opt_out, keyword)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def _create_private(path: str) -> None:
    """Create a new database file 0600 (it holds phone numbers); SQLite's -wal and -shm
    files take the database file's mode. An existing file is left as it is."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:  # it exists, or cannot be created: SQLite opens it (or says why not) as before
        pass


def statuses_on(conn: sqlite3.Connection, campaign: str, msisdns: Sequence[str]) -> dict[str, str]:
    """The stored delivery status of each of ``msisdns`` in ``campaign`` that has one.

    Runs on a connection another module opened to the same file (``bulksend
    report`` reads it on the journal's thread, a page of recipients at a
    time); a file without the delivery tables has none.
    """
    if not msisdns:
        return {}
    (tables,) = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                             "AND name = 'delivery_reports'").fetchone()
    if not tables:
        return {}
    rows = conn.execute("SELECT msisdn, status FROM delivery_reports WHERE campaign = ? AND msisdn IN "
                        "(SELECT value FROM json_each(?))", (campaign, orjson.dumps(list(msisdns)))).fetchall()
    return {str(m): str(st) for m, st in rows}


class DeliveryStore(Protocol):
    async def record_sent(self, sent: Sequence[Sent]) -> None: ...

    async def record_batch(self, campaign: str, numbers: Sequence[str] | Numbers, provider_id: str,
                           accepted_at: float) -> None:
        """``record_sent`` for a batch accepted whole, under one id (the common case, made cheap:
        one row a batch; ``Numbers`` are stored from their joined text, never split)."""
        ...

    async def record_reports(self, reports: Sequence[Report]) -> None: ...

    async def record_inbound(self, message: Inbound) -> None: ...

    async def find_sent(self, provider_id: str, msisdn: str | None = None) -> tuple[str, str] | None:
        """``(campaign, msisdn)`` of an accepted message, by the provider's id."""
        ...

    async def was_sent(self, campaign: str, msisdn: str) -> bool: ...

    async def sent_of(self, campaign: str) -> list[Sent]: ...

    async def final_of(self, campaign: str) -> set[str]:
        """The numbers of ``campaign`` that already have a final status."""
        ...

    async def counts(self, campaign: str) -> dict[str, int]:
        """``{status: recipients}`` by latest status, plus ``sent``."""
        ...

    async def latencies(self, campaign: str) -> list[float]:
        """Seconds from accepted to delivered, for every delivered recipient with both times."""
        ...

    async def close(self) -> None: ...


class SqliteDeliveryStore:
    """``DeliveryStore`` in SQLite, on one worker thread; see the module docstring."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        #: only read (``bulksend status``): no schema written, a missing file or table reads as empty
        self.readonly = readonly
        self._absent = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulksend-delivery")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[str, list[tuple[Any, ...]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path) -> SqliteDeliveryStore:
        store = cls(path)
        await store._run(store._connect)
        return store

    async def __aenter__(self) -> SqliteDeliveryStore:
        if self._conn is None:
            await self._run(self._connect)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the worker thread -------------------------------------------------
    def _connect(self) -> None:
        if self.readonly:
            self._connect_readonly()
            return
        if self.path != ":memory:":
            try:
                check_regular(Path(self.path))
            except NotAFile as exc:
                raise InputError(f"delivery store {self.path} is {exc.kind}, not a file; "
                                 "give --db the path of a file") from None
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SCHEMA)
        conn.execute(_SENT_ALL + _SENT_ALL_BATCHES)
        self._conn = conn

    def _connect_readonly(self) -> None:
        if not Path(self.path).exists():
            self._absent = True
            return
        conn = connect_read_only(self.path, timeout=10.0)  # mode=ro: works on a full disk or a read-only file
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                             "('delivery_sent', 'delivery_reports', 'inbound_messages')").fetchone()[0]
        self._absent = int(found) < 3
        if not self._absent:
            (batches,) = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                      "AND name = 'delivery_sent_batches'").fetchone()
            conn.execute(_SENT_ALL + (_SENT_ALL_BATCHES if batches else ""))
        self._conn = conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the delivery store is closed")
        return self._conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _write_all(self, groups: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in groups:
                db.executemany(sql, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._absent:  # read-only, and nothing was ever stored here
            return []
        return self._db().execute(sql, args).fetchall()

    # -- group commit ------------------------------------------------------
    async def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.readonly:
            raise RuntimeError(f"the delivery store {self.path} was opened read-only")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, rows, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let writers already woken in this turn of the loop join the commit
        while self._queue:
            taken, self._queue = self._queue, []
            try:
                await self._run(self._write_all, [(sql, rows) for sql, rows, _f in taken])
            except Exception as exc:
                for _sql, _rows, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _sql, _rows, future in taken:
                if not future.done():
                    future.set_result(None)

    # -- the protocol --------------------------------------------------------
    async def record_sent(self, sent: Sequence[Sent]) -> None:
        await self._write(_UPSERT_SENT, [(s.campaign, s.msisdn, s.provider_id, s.accepted_at) for s in sent])

    async def record_batch(self, campaign: str, numbers: Sequence[str] | Numbers, provider_id: str,
                           accepted_at: float) -> None:
        if numbers:
            await self._write(_INSERT_SENT_BATCH, [(campaign, provider_id, accepted_at, _numbers_text(numbers))])

    async def record_reports(self, reports: Sequence[Report]) -> None:
        await self._write(_UPSERT_REPORT, [
            (r.campaign, r.msisdn, r.status.value, int(r.status.final), r.provider_status, r.code, r.at,
             r.received_at, r.provider_id) for r in reports])

    async def record_inbound(self, message: Inbound) -> None:
        m = message
        await self._write(_INSERT_INBOUND, [(m.provider, m.plan, m.message_id, m.sender, m.recipient, m.body,
                                             m.at, m.received_at, int(m.opt_out), m.keyword)])

    async def find_sent(self, provider_id: str, msisdn: str | None = None) -> tuple[str, str] | None:
        if not provider_id:
            return None
        if msisdn:
            rows = await self._run(self._query, "SELECT campaign, msisdn FROM sent_all "
                                   "WHERE provider_id = ? AND msisdn = ? LIMIT 1", (provider_id, msisdn))
        else:
            rows = await self._run(self._query, "SELECT DISTINCT campaign, msisdn FROM sent_all "
                                   "WHERE provider_id = ? LIMIT 2", (provider_id,))
            if len(rows) > 1:  # a batch id names many numbers: the number is needed
                return None
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def was_sent(self, campaign: str, msisdn: str) -> bool:
        rows = await self._run(self._query, "SELECT 1 FROM sent_all WHERE campaign = ? AND msisdn = ? LIMIT 1",
                               (campaign, msisdn))
        return bool(rows)

    async def sent_of(self, campaign: str) -> list[Sent]:
        rows = await self._run(self._query, "SELECT campaign, msisdn, provider_id, max(accepted_at) FROM sent_all "
                               "WHERE campaign = ? GROUP BY msisdn ORDER BY 4", (campaign,))
        return [Sent(str(c), str(m), str(p), float(a)) for c, m, p, a in rows]

    async def final_of(self, campaign: str) -> set[str]:
        rows = await self._run(self._query, "SELECT msisdn FROM delivery_reports WHERE campaign = ? AND final = 1",
                               (campaign,))
        return {str(r[0]) for r in rows}

    async def counts(self, campaign: str) -> dict[str, int]:
        rows = await self._run(self._query, "SELECT status, COUNT(*) FROM delivery_reports WHERE campaign = ? "
                               "GROUP BY status", (campaign,))
        out = {str(status): int(n) for status, n in rows}
        sent = await self._run(self._query, "SELECT COUNT(DISTINCT msisdn) FROM sent_all WHERE campaign = ?",
                               (campaign,))
        out["sent"] = int(sent[0][0]) if sent else 0
        return out

    async def latencies(self, campaign: str) -> list[float]:
        rows = await self._run(self._query, (
            "SELECT r.at - s.accepted_at FROM delivery_reports AS r "
            "JOIN (SELECT msisdn, max(accepted_at) AS accepted_at FROM sent_all WHERE campaign = ?1 "
            "GROUP BY msisdn) AS s ON s.msisdn = r.msisdn "
            "WHERE r.campaign = ?1 AND r.status = ?2 AND r.at IS NOT NULL"),
            (campaign, DeliveryStatus.DELIVERED.value))
        return [max(0.0, float(r[0])) for r in rows]

    async def reports_of(self, campaign: str) -> list[Report]:
        rows = await self._run(self._query, (
            "SELECT campaign, msisdn, status, provider_status, code, at, received_at, provider_id "
            "FROM delivery_reports WHERE campaign = ? ORDER BY msisdn"), (campaign,))
        return [Report(str(c), str(m), DeliveryStatus(s), str(ps), str(code), a, float(ra), str(pid))
                for c, m, s, ps, code, a, ra, pid in rows]

    async def inbound(self, opt_outs_only: bool = False) -> list[Inbound]:
        where = "WHERE opt_out = 1 " if opt_outs_only else ""
        rows = await self._run(self._query, (
            "SELECT provider, plan, sender, recipient, body, received_at, at, message_id, opt_out, keyword "
            f"FROM inbound_messages {where}ORDER BY id"), ())
        return [Inbound(str(p), str(pl), str(s), str(r), str(b), float(ra), a, str(mid), bool(o), str(k))
                for p, pl, s, r, b, ra, a, mid, o, k in rows]

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=True)
