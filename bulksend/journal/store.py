"""The journal's SQL, all of it: plain functions over one ``sqlite3.Connection``.

No threads and no asyncio here; ``Journal`` runs these on its worker
thread, inside the transaction it opened::

    n = await journal.read(store.counts, cid)
    await journal.write(store.set_state, cid, state, reason, journal.clock())

A function that stamps a time takes it as ``now`` (the journal's clock,
injected), never reading one itself. A new query is one function here;
nothing else changes. Queries that walk a campaign's recipients use the
rowid (``id``) and say ``+campaign`` so that SQLite never trades the rowid
range for a scan of some other index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from bulksend.core.seen import SeenNumbers
from bulksend.journal.blocks import BlockReader, Member, keys_of, pack
from bulksend.journal.records import (
    BATCHED,
    NEW,
    R_FAILED,
    R_UNKNOWN,
    BatchRow,
    BatchState,
    CampaignRecord,
    CampaignState,
    Counts,
    ListSource,
    StagedBlock,
    Target,
    message_from_json,
    message_hash,
    message_to_json,
)
from bulksend.models import Message, Numbers


class InvariantError(Exception):
    """The journal and the engine disagree about a batch: a bug, never data loss."""


_CAMPAIGN_COLS = (
    "id, name, state, reason, plan, provider, account, endpoint, message, message_hash, source, "
    "max_batch, start_at, created_at, updated_at, first_id, staged, line_done, read, invalid, "
    "duplicates, excluded, total, parts, staging_s"
)


def _campaign(row: Sequence[Any]) -> CampaignRecord:
    return CampaignRecord(
        id=row[0], name=row[1], state=CampaignState(row[2]), reason=row[3],
        target=Target(row[4], row[5], row[6], row[7]), message=message_from_json(row[8]),
        message_hash=row[9], source=ListSource.from_json(row[10]), max_batch=row[11],
        start_at=row[12], created_at=row[13], updated_at=row[14], first_id=row[15],
        staged=bool(row[16]), line_done=row[17], read=row[18], invalid=row[19],
        duplicates=row[20], excluded=row[21], total=row[22], parts=orjson.loads(row[23]),
        staging_s=row[24],
    )


# -- campaigns -------------------------------------------------------------
def find_campaign(conn: sqlite3.Connection, name: str) -> CampaignRecord | None:
    row = conn.execute(f"SELECT {_CAMPAIGN_COLS} FROM campaigns WHERE name = ?", (name,)).fetchone()
    return _campaign(row) if row else None


def get_campaign(conn: sqlite3.Connection, cid: int) -> CampaignRecord:
    row = conn.execute(f"SELECT {_CAMPAIGN_COLS} FROM campaigns WHERE id = ?", (cid,)).fetchone()
    if row is None:
        raise InvariantError(f"no campaign with id {cid}")
    return _campaign(row)


def list_campaigns(conn: sqlite3.Connection) -> list[CampaignRecord]:
    rows = conn.execute(f"SELECT {_CAMPAIGN_COLS} FROM campaigns ORDER BY created_at, id").fetchall()
    return [_campaign(r) for r in rows]


def create_campaign(
    conn: sqlite3.Connection, name: str, target: Target, message: Message, source: ListSource,
    max_batch: int | None, start_at: float | None, now: float,
) -> CampaignRecord:
    last = next_id(conn) - 1
    state = CampaignState.STAGING.value
    conn.execute(
        "INSERT INTO campaigns (name, state, plan, provider, account, endpoint, message, message_hash, "
        "source, max_batch, start_at, created_at, updated_at, first_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, state, target.plan, target.provider, target.account, target.endpoint,
         message_to_json(message), message_hash(message), source.to_json(), max_batch, start_at,
         now, now, last + 1),
    )
    found = find_campaign(conn, name)
    assert found is not None
    return found


def set_state(conn: sqlite3.Connection, cid: int, state: CampaignState, reason: str, now: float) -> None:
    conn.execute("UPDATE campaigns SET state = ?, reason = ?, updated_at = ? WHERE id = ?",
                 (state.value, reason, now, cid))


def update_spec(
    conn: sqlite3.Connection, cid: int, target: Target, message: Message, max_batch: int | None,
    start_at: float | None, now: float,
) -> None:
    """What ``--allow-changes`` writes: the new target and message from now on."""
    conn.execute(
        "UPDATE campaigns SET plan = ?, provider = ?, account = ?, endpoint = ?, message = ?, "
        "message_hash = ?, max_batch = ?, start_at = ?, updated_at = ? WHERE id = ?",
        (target.plan, target.provider, target.account, target.endpoint, message_to_json(message),
         message_hash(message), max_batch, start_at, now, cid),
    )


def set_plan(conn: sqlite3.Connection, cid: int, plan: str, now: float) -> None:
    conn.execute("UPDATE campaigns SET plan = ?, updated_at = ? WHERE id = ?", (plan, now, cid))


# -- staging ---------------------------------------------------------------
def next_id(conn: sqlite3.Connection) -> int:
    """The next free recipient id: ids are the send order, in every campaign, and
    a block of the list read while it was sent has ids ``lo``..``hi`` without rows."""
    (rows,) = conn.execute("SELECT ifnull(max(id), 0) FROM recipients").fetchone()
    (held,) = conn.execute("SELECT ifnull(max(hi), 0) FROM blocks").fetchone()
    return max(int(rows), int(held)) + 1


def seen_numbers(conn: sqlite3.Connection, cid: int) -> SeenNumbers:
    """The campaign's numbers so far, to skip repeats of them (one scan, on resume)."""
    (first,) = conn.execute("SELECT first_id FROM campaigns WHERE id = ?", (cid,)).fetchone()
    seen = SeenNumbers()
    cursor = conn.execute("SELECT msisdn FROM recipients WHERE id >= ? AND +campaign = ?", (first, cid))
    while rows := cursor.fetchmany(1 << 16):
        seen.take(np.array(rows, dtype=np.int64).reshape(-1))
    # A block keeps the numbers of batches exploded since: seen twice, taken once.
    for (numbers,) in conn.execute("SELECT numbers FROM blocks WHERE hi >= ? AND +campaign = ?", (first, cid)):
        seen.take(keys_of(numbers))
    return seen


#: ``(first seq, first id, batch size)``: row ``first id + k`` is in batch ``first seq + k // size``
Assignment = tuple[int, int, int]


def append_rows(conn: sqlite3.Connection, cid: int, first: int, taken: StagedBlock, assign: Assignment | None,
                now: float = 0.0) -> None:
    """Append one block of the list with ids from ``first``, and the counters
    that say how far staging got.

    With ``assign`` the rows are already members of the batches the sender
    cut (``mark_many`` then writes only the batch row); without, they
    wait free to be paged out. The block goes in as one JSON array, in one
    statement: SQLite makes the rows in C, without the interpreter lock, so
    the event loop's thread runs on meanwhile.
    """
    if len(taken.numbers):
        with_params = not isinstance(taken.recipients, Numbers) and any(r.params for r in taken.recipients)
        if with_params:
            data = orjson.dumps([[n, r.params or None] for n, r in zip(taken.numbers.tolist(), taken.recipients)])
        else:
            data = orjson.dumps(taken.numbers, option=orjson.OPT_SERIALIZE_NUMPY)
        conn.execute(_insert_sql(cid, assign, with_params), (first, data))
    _block_done(conn, cid, taken, now)


def _block_done(conn: sqlite3.Connection, cid: int, taken: StagedBlock, now: float) -> None:
    """A block's bad lines and counters, and how far the list is staged."""
    if taken.rejects:
        conn.executemany("INSERT INTO rejects (campaign, line, value, reason) VALUES (?, ?, ?, ?)", taken.rejects)
    conn.execute(
        "UPDATE campaigns SET read = read + ?, invalid = invalid + ?, excluded = excluded + ?, "
        "duplicates = duplicates + ?, total = total + ?, line_done = max(line_done, ?), updated_at = ? "
        "WHERE id = ?",
        (taken.read, taken.invalid, taken.excluded, taken.duplicates, len(taken.numbers), taken.line_done,
         now, cid))


#: ``(seq, lo, hi)``: a batch cut from a block
CutBatch = tuple[int, int, int]


def append_batches(conn: sqlite3.Connection, cid: int, taken: StagedBlock, first: int, cut: Sequence[CutBatch],
                   params: str | None = None, now: float = 0.0) -> None:
    """A block of the list, ids from ``first``, as the batches cut from it, written
    in flight: one row a batch and a small ``held`` one, and the block's members
    in one ``blocks`` row (``params``: their template values as a JSON list).
    No ``recipients`` rows; see ``explode``."""
    data = orjson.dumps(cut)
    try:
        conn.execute(_INSERT_CUT, (cid, now, data))
        conn.execute(_HOLD_CUT, (cid, data))
        if len(taken.numbers):
            conn.execute("INSERT INTO blocks (lo, campaign, hi, numbers, params) VALUES (?, ?, ?, ?, ?)",
                         (first, cid, first + len(taken.numbers) - 1, pack(taken.numbers), params))
    except sqlite3.IntegrityError:
        raise InvariantError(f"one of batches {[c[0] for c in cut]} of campaign {cid} was already written") from None
    _block_done(conn, cid, taken, now)


# One statement for the whole block, not ``executemany``: every statement step
# gives the interpreter lock up, and getting it back while the event loop's
# thread is busy can take the whole switch interval (5 ms) each time.
_INSERT_CUT = (
    "INSERT INTO batches (campaign, seq, lo, hi, size, state, sent_at) "
    "SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, (j.value ->> 2) - (j.value ->> 1) + 1, "
    f"'{BatchState.IN_FLIGHT.value}', ?2 FROM json_each(?3) AS j")
_HOLD_CUT = "INSERT INTO held (hi, campaign, seq) SELECT j.value ->> 2, ?1, j.value ->> 0 FROM json_each(?2) AS j"


def explode(conn: sqlite3.Connection, cid: int, seq: int) -> None:
    """Give a batch's members rows of their own (ids ``lo``..``hi``, in the batch),
    when one of them needs a state of its own; the batch keeps only its row."""
    row = conn.execute("SELECT b.lo, b.hi FROM batches AS b "
                       "JOIN held AS h ON h.hi = b.hi AND h.campaign = b.campaign AND h.seq = b.seq "
                       "WHERE b.campaign = ? AND b.seq = ?", (cid, seq)).fetchone()
    if row is None:
        return
    lo, hi = row
    conn.executemany(
        "INSERT INTO recipients (id, campaign, msisdn, params, seq, state) VALUES (?, ?, ?, ?, ?, ?)",
        [(rid, cid, int(n), p, seq, BATCHED) for rid, n, p in _held(BlockReader(conn), cid, seq, lo, hi)])
    conn.execute("DELETE FROM held WHERE hi = ?", (hi,))


@lru_cache(maxsize=32)
def _insert_sql(cid: int, assign: Assignment | None, with_params: bool) -> str:
    number, params = ("value ->> 0", "json_extract(value, '$[1]')") if with_params else ("value", "NULL")
    if assign is None:
        seq, state = "NULL", str(NEW)
    else:
        first_seq, base, size = (int(v) for v in assign)
        seq, state = f"{first_seq} + (?1 + key - {base}) / {size}", str(BATCHED)
    return (f"INSERT INTO recipients (id, campaign, msisdn, params, seq, state) "
            f"SELECT ?1 + key, {int(cid)}, {number}, {params}, {seq}, {state} FROM json_each(?2)")


def finish_staging(conn: sqlite3.Connection, cid: int, parts: dict[str, Any], staging_s: float,
                   now: float) -> tuple[int, int]:
    """Mark the list staged: every line of it is in the journal. ``(duplicates, total)``.

    Repeats were dropped while staging (``SeenNumbers``); ``parts`` is the
    estimate over what this run read, without them.
    """
    conn.execute("UPDATE campaigns SET staged = 1, parts = ?, staging_s = staging_s + ?, updated_at = ? "
                 "WHERE id = ?", (orjson.dumps(parts).decode(), staging_s, now, cid))
    (dups, total) = conn.execute("SELECT duplicates, total FROM campaigns WHERE id = ?", (cid,)).fetchone()
    return int(dups), int(total)


def free_orphans(conn: sqlite3.Connection, cid: int) -> int:
    """Rows appended for batches that never went in flight (the run stopped
    first) go back to be sent: no request for them ever left."""
    (first,) = conn.execute("SELECT first_id FROM campaigns WHERE id = ?", (cid,)).fetchone()
    return int(conn.execute(
        "UPDATE recipients SET state = ?, seq = NULL WHERE id >= ? AND +campaign = ? AND state = ? "
        "AND NOT EXISTS (SELECT 1 FROM batches AS b WHERE b.campaign = ? AND b.seq = recipients.seq)",
        (NEW, first, cid, BATCHED, cid)).rowcount)


def restart_list(conn: sqlite3.Connection, cid: int, now: float) -> None:
    """Read the list again from its first line (it changed, and the operator allowed it).

    When nothing was sent yet, the half-staged list is forgotten. Otherwise
    what the journal holds stays (sent is sent): the new list is read from
    its start and the numbers the campaign already has are skipped as repeats.
    """
    (sent,) = conn.execute("SELECT count(*) FROM batches WHERE campaign = ?", (cid,)).fetchone()
    if not sent:
        reset_staging(conn, cid, now)
    else:
        conn.execute("UPDATE campaigns SET line_done = 0, updated_at = ? WHERE id = ?", (now, cid))


def reset_staging(conn: sqlite3.Connection, cid: int, now: float) -> None:
    """Forget a half-staged list (its file changed); nothing of it was sent."""
    (first,) = conn.execute("SELECT first_id FROM campaigns WHERE id = ?", (cid,)).fetchone()
    conn.execute("DELETE FROM recipients WHERE id >= ? AND +campaign = ?", (first, cid))
    conn.execute("DELETE FROM rejects WHERE campaign = ?", (cid,))
    conn.execute("UPDATE campaigns SET staged = 0, line_done = 0, read = 0, invalid = 0, excluded = 0, "
                 "duplicates = 0, total = 0, staging_s = 0, updated_at = ? WHERE id = ?", (now, cid))


def replace_list(conn: sqlite3.Connection, cid: int, source: ListSource, now: float) -> None:
    """A new file for a list not yet fully staged: forget what was staged of
    the old one (nothing of it was sent) and read ``source`` from its start."""
    reset_staging(conn, cid, now)
    conn.execute("UPDATE campaigns SET source = ? WHERE id = ?", (source.to_json(), cid))


def rejects_of(conn: sqlite3.Connection, cid: int) -> list[tuple[int, str, str]]:
    return conn.execute("SELECT line, value, reason FROM rejects WHERE campaign = ? ORDER BY line",
                        (cid,)).fetchall()


# -- sending ---------------------------------------------------------------
def page_new(conn: sqlite3.Connection, cid: int, after: int, limit: int) -> list[tuple[int, str, str | None]]:
    """The next ``limit`` recipients in list order that are in no live batch:
    ``(id, msisdn, params)``, the number already as text (SQLite makes it faster)."""
    return conn.execute(
        "SELECT id, CAST(msisdn AS TEXT), params FROM recipients WHERE id > ? AND +campaign = ? AND state = 0 "
        "ORDER BY id LIMIT ?", (after, cid, limit)).fetchall()


def page_numbers(conn: sqlite3.Connection, cid: int, after: int, size: int, count: int
                 ) -> list[tuple[int, int, str]]:
    """Up to ``count`` batches of ``size`` free recipients, in list order, for a
    static body: ``(first id, last id, "number,number,...")`` each. Joining the
    numbers in SQLite halves what Python spends per recipient."""
    out: list[tuple[int, int, str]] = []
    for _ in range(count):
        lo, hi, numbers = conn.execute(
            "SELECT min(id), max(id), group_concat(msisdn) FROM (SELECT id, msisdn FROM recipients "
            "WHERE id > ? AND +campaign = ? AND state = 0 ORDER BY id LIMIT ?)", (after, cid, size)).fetchone()
        if lo is None:
            break
        out.append((lo, hi, numbers))
        after = hi
    return out


def next_seq(conn: sqlite3.Connection, cid: int) -> int:
    """Above every seq ever written: a seq that may have reached the provider is never reused."""
    (top,) = conn.execute("SELECT ifnull(max(seq), -1) FROM batches WHERE campaign = ?", (cid,)).fetchone()
    return int(top) + 1


#: ``(campaign, seq, lo, hi, size, assigned, now)``: one batch going in flight
Mark = tuple[int, int, int, int, int, bool, float]


def mark_many(conn: sqlite3.Connection, marks: Sequence[Mark]) -> None:
    """Record batches in flight before their requests leave: the batch rows in
    one statement; members paged out free are moved into their batch, and
    those appended already in it (``assigned``) are counted in one query, so
    a block that never reached the disk stops its batches here."""
    try:
        conn.executemany("INSERT INTO batches (campaign, seq, lo, hi, size, state, sent_at) "
                         f"VALUES (?, ?, ?, ?, ?, '{BatchState.IN_FLIGHT.value}', ?)",
                         [(cid, seq, lo, hi, size, now) for cid, seq, lo, hi, size, _a, now in marks])
    except sqlite3.IntegrityError:
        raise InvariantError(f"one of batches {[m[1] for m in marks]} was already written") from None
    assigned: dict[int, list[Mark]] = {}
    for mark in marks:
        cid, seq, lo, hi, size, is_assigned, _now = mark
        if is_assigned:
            assigned.setdefault(cid, []).append(mark)
            continue
        changed = conn.execute(
            "UPDATE recipients SET seq = ?, state = ? WHERE id BETWEEN ? AND ? AND +campaign = ? AND state = ?",
            (seq, BATCHED, lo, hi, cid, NEW)).rowcount
        if changed != size:
            raise InvariantError(f"batch {seq}: {changed} recipients free in ids {lo}..{hi}, expected {size}")
    for cid, group in assigned.items():
        found = dict(conn.execute(
            "SELECT seq, count(*) FROM recipients WHERE id BETWEEN ? AND ? AND +campaign = ? AND state = ? "
            "GROUP BY seq", (min(m[2] for m in group), max(m[3] for m in group), cid, BATCHED)).fetchall())
        for _cid, seq, lo, hi, size, _a, _now in group:
            if found.get(seq, 0) != size:
                raise InvariantError(f"batch {seq}: {found.get(seq, 0)} of its {size} recipients are in the "
                                     f"journal (ids {lo}..{hi}); the block that held them was not written")


#: ``(campaign, seq, state, provider_id, code, text, attempts, tally, per_recipient, now)``
Settle = tuple[int, int, BatchState, str, str, str, int, tuple[int, int, int],
               Sequence[tuple[str, str, str, int]], float]


def settle_many(conn: sqlite3.Connection, settles: Sequence[Settle]) -> None:
    """``settle`` for many batches; the whole-batch answers one statement per kind.

    Answers that say the same of a batch (state, code, text, attempts: nearly
    always "accepted", first time) share one UPDATE, so each batch's row
    costs five values read out of the JSON, not eleven.
    """
    kinds: dict[tuple[int, BatchState, str, str, int, int], list[tuple[int, str | None, float, int, int]]] = {}
    for cid, seq, state, pid, code, text, attempts, tally, per, now in settles:
        if per:
            continue
        n = sum(tally)
        column = tally.index(n) if n else 0  # a whole-batch answer counts every member in one column
        if tally[column] != n:
            raise InvariantError(f"batch {seq}: a whole-batch answer with a split tally {tally}")
        kinds.setdefault((cid, state, code, text[:500], attempts, column), []).append((seq, pid or None, now, n, cid))
    for (cid, state, code, text, attempts, column), rows in kinds.items():
        changed = conn.execute(_settle_sql(column), (state.value, code, text, attempts,
                                                     orjson.dumps(rows))).rowcount
        if changed != len(rows):
            raise InvariantError(f"of batches {[r[0] for r in rows]}, {len(rows) - changed} were not in flight")
    for cid, seq, state, pid, code, text, attempts, tally, per, now in settles:
        if per:
            settle(conn, cid, seq, state, pid, code, text, attempts, tally, per, now)


@lru_cache(maxsize=3)
def _settle_sql(column: int) -> str:
    """One statement for a kind of answer (see _INSERT_CUT); each batch found by its key.
    ``column`` 0, 1 or 2: whether its members count as accepted, failed or unknown."""
    counts = ", ".join(f"{name} = {'j.value ->> 3' if i == column else '0'}"
                       for i, name in enumerate(("accepted", "failed", "unknown")))
    return ("UPDATE batches SET state = ?1, code = ?2, text = ?3, attempts = ?4, provider_id = j.value ->> 1, "
            f"settled_at = j.value ->> 2, {counts} FROM json_each(?5) AS j "
            # the key from the JSON on both sides, or SQLite walks the campaign's batches for each row
            "WHERE batches.campaign = j.value ->> 4 AND batches.seq = j.value ->> 0 "
            f"AND batches.state = '{BatchState.IN_FLIGHT.value}'")


def settle(
    conn: sqlite3.Connection, cid: int, seq: int, state: BatchState, provider_id: str, code: str,
    text: str, attempts: int, tally: tuple[int, int, int],
    per_recipient: Sequence[tuple[str, str, str, int]] = (), now: float = 0.0,
) -> None:
    """Record what became of an in-flight batch, and of each member if the
    provider answered per recipient: ``(msisdn, provider_id, code, state)``."""
    accepted, failed, unknown = tally
    changed = conn.execute(
        "UPDATE batches SET state = ?, provider_id = ?, code = ?, text = ?, attempts = ?, accepted = ?, "
        "failed = ?, unknown = ?, settled_at = ? WHERE campaign = ? AND seq = ? AND state = ?",
        (state.value, provider_id or None, code, text[:500], attempts, accepted, failed, unknown, now,
         cid, seq, BatchState.IN_FLIGHT.value)).rowcount
    if changed != 1:
        raise InvariantError(f"batch {seq} of campaign {cid} is not in flight")
    if not per_recipient:
        return
    explode(conn, cid, seq)
    lo, hi = conn.execute("SELECT lo, hi FROM batches WHERE campaign = ? AND seq = ?", (cid, seq)).fetchone()
    ids = dict(conn.execute("SELECT CAST(msisdn AS TEXT), id FROM recipients WHERE id BETWEEN ? AND ? "
                            "AND +campaign = ? AND seq = ?", (lo, hi, cid, seq)).fetchall())
    conn.executemany("UPDATE recipients SET state = ?, provider_id = ?, code = ? WHERE id = ?",
                     [(s, pid or None, c or None, ids[m]) for m, pid, c, s in per_recipient if m in ids])


def return_batch(conn: sqlite3.Connection, cid: int, seq: int, code: str, text: str, now: float) -> int:
    """The provider does not have this batch: its members go back to be sent again."""
    explode(conn, cid, seq)
    row = conn.execute("SELECT lo, hi FROM batches WHERE campaign = ? AND seq = ?", (cid, seq)).fetchone()
    if row is None:
        raise InvariantError(f"no batch {seq} in campaign {cid}")
    back = conn.execute(
        "UPDATE recipients SET state = ?, seq = NULL, provider_id = NULL, code = NULL "
        "WHERE id BETWEEN ? AND ? AND +campaign = ? AND seq = ?", (NEW, row[0], row[1], cid, seq)).rowcount
    conn.execute("UPDATE batches SET state = ?, code = ?, text = ?, accepted = 0, failed = 0, unknown = 0, "
                 "settled_at = ? WHERE campaign = ? AND seq = ?",
                 (BatchState.RETURNED.value, code, text[:500], now, cid, seq))
    return int(back)


def _held(blocks: BlockReader, cid: int, seq: int, lo: int, hi: int) -> list[Member]:
    """The members of a held batch, from its block."""
    members = blocks.members(lo, hi)
    if members is None:
        raise InvariantError(f"batch {seq} of campaign {cid} is held, but no block holds its ids {lo}..{hi}")
    return members


def batches_in(conn: sqlite3.Connection, cid: int, states: Iterable[BatchState]) -> list[BatchRow]:
    wanted = [s.value for s in states]
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        "SELECT campaign, seq, lo, hi, size, state, provider_id, code, text, attempts, sent_at, settled_at "
        f"FROM batches WHERE campaign = ? AND state IN ({marks}) ORDER BY seq", (cid, *wanted)).fetchall()
    return [BatchRow(r[0], r[1], r[2], r[3], r[4], BatchState(r[5]), r[6], r[7], r[8], r[9], r[10], r[11])
            for r in rows]


def members(conn: sqlite3.Connection, cid: int, seq: int, lo: int, hi: int) -> list[tuple[int, str, str | None]]:
    """A batch's members ``(id, msisdn, params)``, from its own row or from theirs."""
    held = conn.execute("SELECT 1 FROM held WHERE hi = ? AND campaign = ? AND seq = ?", (hi, cid, seq)).fetchone()
    if held is not None:
        return _held(BlockReader(conn), cid, seq, lo, hi)
    return conn.execute(
        "SELECT id, CAST(msisdn AS TEXT), params FROM recipients WHERE id BETWEEN ? AND ? AND +campaign = ? "
        "AND seq = ? ORDER BY id", (lo, hi, cid, seq)).fetchall()


def return_unknown(conn: sqlite3.Connection, cid: int, now: float) -> int:
    """``--resend-unknown``: every recipient whose fate is unknown is sent again."""
    return _send_again(conn, cid, BatchState.UNKNOWN, R_UNKNOWN, "resend_unknown", now)


def return_failed(conn: sqlite3.Connection, cid: int, now: float) -> int:
    """``--retry-failed``: failed recipients (the provider did not take them) are sent again."""
    return _send_again(conn, cid, BatchState.FAILED, R_FAILED, "retry_failed", now)


def _send_again(conn: sqlite3.Connection, cid: int, whole: BatchState, row_state: int, code: str,
                now: float) -> int:
    back = 0
    for batch in batches_in(conn, cid, (whole,)):
        back += return_batch(conn, cid, batch.seq, code, f"sent again ({code})", now)
    column = "unknown" if whole is BatchState.UNKNOWN else "failed"
    for batch in batches_in(conn, cid, (BatchState.MIXED,)):
        back += conn.execute(
            "UPDATE recipients SET state = ?, seq = NULL, provider_id = NULL, code = NULL "
            "WHERE id BETWEEN ? AND ? AND +campaign = ? AND seq = ? AND state = ?",
            (NEW, batch.lo, batch.hi, cid, batch.seq, row_state)).rowcount
        conn.execute(f"UPDATE batches SET {column} = 0 WHERE campaign = ? AND seq = ?", (cid, batch.seq))
    return back


def mark_cancelled(conn: sqlite3.Connection, cid: int, seq: int, now: float) -> None:
    conn.execute("UPDATE batches SET state = ?, accepted = 0, failed = 0, unknown = 0, settled_at = ? "
                 "WHERE campaign = ? AND seq = ?", (BatchState.CANCELLED.value, now, cid, seq))


# -- what the journal tells --------------------------------------------------
def counts(conn: sqlite3.Connection, cid: int) -> Counts:
    (total,) = conn.execute("SELECT total FROM campaigns WHERE id = ?", (cid,)).fetchone()
    sums = {state: (size, acc, fail, unk) for state, size, acc, fail, unk in conn.execute(
        "SELECT state, sum(size), sum(accepted), sum(failed), sum(unknown) FROM batches "
        "WHERE campaign = ? GROUP BY state", (cid,))}
    in_flight = sums.get(BatchState.IN_FLIGHT.value, (0, 0, 0, 0))[0]
    cancelled = sums.get(BatchState.CANCELLED.value, (0, 0, 0, 0))[0]
    accepted = sum(v[1] for v in sums.values())
    failed = sum(v[2] for v in sums.values())
    unknown = sum(v[3] for v in sums.values())
    pending = max(0, total - in_flight - cancelled - accepted - failed - unknown)
    return Counts(total, pending, in_flight, accepted, failed, unknown, cancelled)


def last_activity(conn: sqlite3.Connection, cid: int) -> float | None:
    """The last time a run of this campaign wrote a batch: when it was last seen alive."""
    (last,) = conn.execute("SELECT max(max(ifnull(sent_at, 0), ifnull(settled_at, 0))) FROM batches "
                           "WHERE campaign = ?", (cid,)).fetchone()
    return float(last) if last else None


def recent_rate(conn: sqlite3.Connection, cid: int, window: float = 60.0) -> float:
    """Recipients accepted per second over the last ``window`` seconds of sending."""
    (last,) = conn.execute("SELECT max(settled_at) FROM batches WHERE campaign = ? AND accepted > 0",
                           (cid,)).fetchone()
    if last is None:
        return 0.0
    first, done = conn.execute(
        "SELECT min(sent_at), sum(accepted) FROM batches WHERE campaign = ? AND accepted > 0 AND settled_at > ?",
        (cid, last - window)).fetchone()
    span: float = max(float(last) - float(first or last), 1e-3)
    return float(done or 0) / span


def last_errors(conn: sqlite3.Connection, cid: int, limit: int = 5) -> list[str]:
    rows = conn.execute(
        "SELECT seq, state, code, text FROM batches WHERE campaign = ? AND state IN (?, ?, ?) AND code != '' "
        "ORDER BY settled_at DESC LIMIT ?",
        (cid, BatchState.FAILED.value, BatchState.UNKNOWN.value, BatchState.MIXED.value, limit)).fetchall()
    return [f"batch {seq} {state}: {code} {text}".strip() for seq, state, code, text in rows]


def report_page(conn: sqlite3.Connection, cid: int, after: int, limit: int) -> list[tuple[Any, ...]]:
    """Recipients with their batch, in list order, ``limit`` at a time: those with
    rows of their own merged with the members batches hold (``explode``)."""
    rows = conn.execute(
        "SELECT r.id, r.msisdn, r.state, r.seq, r.provider_id, r.code, r.params, "
        "b.state, b.provider_id, b.code, b.attempts, b.sent_at "
        "FROM recipients AS r LEFT JOIN batches AS b ON b.campaign = r.campaign AND b.seq = r.seq "
        "WHERE r.id > ? AND +r.campaign = ? ORDER BY r.id LIMIT ?", (after, cid, limit)).fetchall()
    upper = rows[-1][0] if len(rows) == limit else None
    held: list[tuple[Any, ...]] = []
    blocks = BlockReader(conn)
    for seq, lo, hi, state, pid, code, attempts, sent_at in conn.execute(
            "SELECT b.seq, b.lo, b.hi, b.state, b.provider_id, b.code, b.attempts, "
            "b.sent_at FROM held AS h JOIN batches AS b ON b.campaign = h.campaign AND b.seq = h.seq "
            "WHERE h.hi > ? AND +h.campaign = ? ORDER BY h.hi", (after, cid)):
        if len(held) >= limit or (upper is not None and lo > upper):
            break
        held.extend((rid, int(n), BATCHED, seq, None, None, p, state, pid, code, attempts, sent_at)
                    for rid, n, p in _held(blocks, cid, seq, lo, hi) if rid > after)
    if not held:
        return rows
    return sorted(rows + held, key=lambda r: int(r[0]))[:limit]


def find_by_provider_id(conn: sqlite3.Connection, provider_id: str, msisdn: str) -> tuple[str, str] | None:
    """``(campaign, msisdn)`` of the recipient a provider's id (and number) names."""
    try:
        number = int(msisdn)
    except ValueError:
        return None
    blocks = BlockReader(conn)
    for cid, seq, lo, hi, held in conn.execute(
            "SELECT b.campaign, b.seq, b.lo, b.hi, h.hi IS NOT NULL FROM batches AS b LEFT JOIN held AS h "
            "ON h.hi = b.hi AND h.campaign = b.campaign AND h.seq = b.seq WHERE b.provider_id = ?",
            (provider_id,)).fetchall():
        if held:
            if str(number) in (blocks.numbers(lo, hi) or ()):
                (name,) = conn.execute("SELECT name FROM campaigns WHERE id = ?", (cid,)).fetchone()
                return str(name), msisdn
            continue
        hit = conn.execute(
            "SELECT c.name FROM recipients AS r JOIN campaigns AS c ON c.id = r.campaign "
            "WHERE r.id BETWEEN ? AND ? AND +r.campaign = ? AND r.seq = ? AND r.msisdn = ?",
            (lo, hi, cid, seq, number)).fetchone()
        if hit:
            return str(hit[0]), msisdn
    hit = conn.execute(
        "SELECT c.name FROM recipients AS r JOIN campaigns AS c ON c.id = r.campaign "
        "WHERE r.provider_id = ? AND r.msisdn = ?", (provider_id, number)).fetchone()
    return (str(hit[0]), msisdn) if hit else None


def accepted_at(conn: sqlite3.Connection, provider_id: str, msisdn: str) -> float | None:
    """When the batch a provider id names was accepted (wall clock), for delivery latency."""
    row = conn.execute("SELECT settled_at FROM batches WHERE provider_id = ? LIMIT 1", (provider_id,)).fetchone()
    if row is None:
        try:
            number = int(msisdn)
        except ValueError:
            return None
        row = conn.execute(
            "SELECT b.settled_at FROM recipients AS r JOIN batches AS b ON b.campaign = r.campaign AND b.seq = r.seq "
            "WHERE r.provider_id = ? AND r.msisdn = ?", (provider_id, number)).fetchone()
    return float(row[0]) if row is not None and row[0] is not None else None


# -- delivery tracking and reconciling (read what was accepted; settle an unknown batch) ---------
#: ``(provider_id, msisdn, accepted_at)``: one recipient the provider took
AcceptedRecipient = tuple[str, str, float]


def accepted_recipients(conn: sqlite3.Connection, cid: int) -> list[AcceptedRecipient]:
    """Every recipient of campaign ``cid`` the provider accepted, with the id its
    reports name it by (its own, else its batch's) and when its batch was accepted
    (``settled_at``; wall clock). What ``bulksend track`` polls after any journaled send."""
    # imported here, so that this section merges on its own
    from bulksend.journal.records import R_ACCEPTED

    out: list[AcceptedRecipient] = []
    blocks = BlockReader(conn)
    for b in batches_in(conn, cid, (BatchState.ACCEPTED, BatchState.MIXED)):
        when = float(b.settled_at or b.sent_at or 0.0)
        held = conn.execute("SELECT 1 FROM held WHERE hi = ? AND campaign = ? AND seq = ?",
                            (b.hi, cid, b.seq)).fetchone()
        if held is not None:  # never exploded: every member shares the batch's answer
            if b.state is BatchState.ACCEPTED and b.provider_id:
                out.extend((b.provider_id, str(m[1]), when) for m in _held(blocks, cid, b.seq, b.lo, b.hi))
            continue
        for msisdn, state, pid in conn.execute(
                "SELECT CAST(msisdn AS TEXT), state, provider_id FROM recipients WHERE id BETWEEN ? AND ? "
                "AND +campaign = ? AND seq = ? ORDER BY id", (b.lo, b.hi, cid, b.seq)):
            taken = state == R_ACCEPTED or (state == BATCHED and b.state is BatchState.ACCEPTED)
            who = pid or b.provider_id
            if taken and who:
                out.append((str(who), str(msisdn), when))
    return out


def settle_unknown(conn: sqlite3.Connection, cid: int, seq: int, provider_id: str, code: str, text: str,
                   now: float) -> int:
    """An ``unknown`` batch the provider, asked again, says it has: accepted, whole.
    Returns its size (0 if it was no longer unknown)."""
    row = conn.execute("SELECT size FROM batches WHERE campaign = ? AND seq = ? AND state = ?",
                       (cid, seq, BatchState.UNKNOWN.value)).fetchone()
    if row is None:
        return 0
    conn.execute("UPDATE batches SET state = ?, provider_id = ?, code = ?, text = ?, accepted = size, failed = 0, "
                 "unknown = 0, settled_at = ? WHERE campaign = ? AND seq = ?",
                 (BatchState.ACCEPTED.value, provider_id or None, code, text[:500], now, cid, seq))
    return int(row[0])


# -- a campaign's inputs (``campaigns.identity``) ---------------------------
def create_campaign_with_inputs(
    conn: sqlite3.Connection, name: str, target: Target, message: Message, source: ListSource,
    max_batch: int | None, start_at: float | None, inputs: str, now: float,
) -> CampaignRecord:
    """``create_campaign`` and its inputs' fingerprints, in one transaction."""
    created = create_campaign(conn, name, target, message, source, max_batch, start_at, now)
    set_inputs(conn, created.id, inputs, now)
    return created


def set_inputs(conn: sqlite3.Connection, cid: int, inputs: str, now: float) -> None:
    conn.execute("UPDATE campaigns SET inputs = ?, updated_at = ? WHERE id = ?", (inputs, now, cid))


def inputs_of(conn: sqlite3.Connection, cid: int) -> str:
    """The campaign's inputs as JSON, "" when it was created before they were kept."""
    row = conn.execute("SELECT inputs FROM campaigns WHERE id = ?", (cid,)).fetchone()
    return str(row[0]) if row is not None else ""


def take_new_list(conn: sqlite3.Connection, cid: int, source: ListSource, inputs: str, now: float) -> None:
    """``--allow-changes`` with another list: read ``source`` from its first line
    for the recipients the campaign does not have yet (those it has are
    skipped as repeats; nothing sent is forgotten)."""
    (sent,) = conn.execute("SELECT count(*) FROM batches WHERE campaign = ?", (cid,)).fetchone()
    if not sent:
        reset_staging(conn, cid, now)
    conn.execute("UPDATE campaigns SET source = ?, inputs = ?, staged = 0, line_done = 0, updated_at = ? "
                 "WHERE id = ?", (source.to_json(), inputs, now, cid))


def set_source(conn: sqlite3.Connection, cid: int, source: ListSource, now: float) -> None:
    """The list's description, nothing else (a file touched with the same bytes: its new mtime)."""
    conn.execute("UPDATE campaigns SET source = ?, updated_at = ? WHERE id = ?", (source.to_json(), now, cid))


def forget_campaign(conn: sqlite3.Connection, cid: int) -> None:
    """Take a campaign out of the journal again: one whose list held no one to send to
    (an input error; nothing of it was sent)."""
    for table in ("recipients", "batches", "rejects", "held", "blocks"):
        conn.execute(f"DELETE FROM {table} WHERE campaign = ?", (cid,))  # fixed names, not input
    conn.execute("DELETE FROM campaigns WHERE id = ?", (cid,))
