"""The journal's tables and how a file is brought up to date.

``PRAGMA user_version`` holds the schema version. ``MIGRATIONS[i]`` takes a
file from version ``i`` to ``i + 1``; a new step is appended, never edited.
The file may hold other tables too (the delivery store of ``bulksend
listen``/``track`` keeps its ``delivery_*`` tables in the same file), so a
step only ever touches the tables named here.

Tables
------
``campaigns``
    One row per campaign: its state, what it sends (the message, never a
    token) and through what (provider, account, endpoint), where its list
    came from and the fingerprints of its input files (``inputs``), and
    the staging counters.
``recipients``
    One row per distinct recipient, in list order (``id`` is the send
    order). ``state`` is 0 (not in a live batch), 1 (in batch ``seq``:
    the batch row says what became of it), or 2/3/4 (accepted / failed /
    unknown, when the provider answered per recipient; ``provider_id`` and
    ``code`` are then the recipient's own). There is deliberately no index
    on ``msisdn``: repeats are dropped in memory while the list is read
    (``SeenNumbers``, seeded by ``store.seen_numbers`` on resume), which is
    what makes staging ten million numbers cost seconds rather than minutes.
``batches``
    One row per request sent: its members are the rows with its ``seq`` and
    ``id`` between ``lo`` and ``hi``, or, for a batch cut from the list while
    it was sent and still ``held``, ids ``lo``..``hi`` of its block. ``state``
    is ``in_flight`` (written before the request leaves), then ``accepted``,
    ``failed``, ``unknown`` or ``mixed`` (per-recipient answers),
    ``returned`` (the provider did not take it; its members went back to
    state 0), or ``cancelled``.
``blocks``
    The members of a block of the list read while it was sent, in one row
    keyed by its first id ``lo`` (ids are unique across campaigns), ids
    ``lo``..``hi`` in order: ``numbers`` one little-endian int64 a member (a
    file brought up from version 3 holds them comma-joined as text),
    ``params`` the JSON list of their template values. One row of 8 bytes a
    number per block, not a row per recipient, nor one per batch with its
    numbers as text (a row a page: 20 MB for a million), is what keeps the
    journal off a campaign's profile.
``held``
    One small row per batch whose members are still only in its block,
    keyed by the batch's ``hi``. A batch is *exploded* into ``recipients``
    rows (``store.explode``) the moment one of its members needs a state of
    its own (an answer per recipient, sent again); its ``held`` row is then
    deleted (the block keeps its copy of the numbers, which is harmless:
    readers take a batch's members from its block only while it is held).
``rejects``
    Lines of the list that could not be used, for the rejects file.

Delivery reports are not stored here (yet): the delivery store keeps its
own tables in the same file and finds a report's recipient through
``Journal.find_by_provider_id``. A migration that adds a delivery table
keyed by ``recipients.id`` would be the next step in ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5

_V1 = """
CREATE TABLE IF NOT EXISTS campaigns (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    plan         TEXT NOT NULL,
    provider     TEXT NOT NULL,
    account      TEXT NOT NULL DEFAULT '',
    endpoint     TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL,
    message_hash TEXT NOT NULL,
    source       TEXT NOT NULL,
    max_batch    INTEGER,
    start_at     REAL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    first_id     INTEGER NOT NULL DEFAULT 1,
    staged       INTEGER NOT NULL DEFAULT 0,
    line_done    INTEGER NOT NULL DEFAULT 0,
    read         INTEGER NOT NULL DEFAULT 0,
    invalid      INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    excluded     INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    parts        TEXT NOT NULL DEFAULT '{}',
    staging_s    REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS recipients (
    id          INTEGER PRIMARY KEY,
    campaign    INTEGER NOT NULL,
    msisdn      INTEGER NOT NULL,
    params      TEXT,
    line        INTEGER NOT NULL DEFAULT 0,
    seq         INTEGER,
    state       INTEGER NOT NULL DEFAULT 0,
    provider_id TEXT,
    code        TEXT
);
CREATE INDEX IF NOT EXISTS recipients_by_provider_id
    ON recipients (provider_id) WHERE provider_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS batches (
    campaign    INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    lo          INTEGER NOT NULL,
    hi          INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    state       TEXT NOT NULL,
    provider_id TEXT,
    code        TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    accepted    INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    unknown     INTEGER NOT NULL DEFAULT 0,
    sent_at     REAL,
    settled_at  REAL,
    PRIMARY KEY (campaign, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_by_provider_id
    ON batches (provider_id) WHERE provider_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS rejects (
    campaign INTEGER NOT NULL,
    line     INTEGER NOT NULL,
    value    TEXT NOT NULL,
    reason   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_by_campaign ON rejects (campaign, line);
"""

_V2 = """
ALTER TABLE batches ADD COLUMN members TEXT;
ALTER TABLE batches ADD COLUMN member_params TEXT;
CREATE INDEX IF NOT EXISTS batches_holding_members ON batches (campaign, hi) WHERE members IS NOT NULL;
"""

# Version 2 kept the members in ``batches``: settling a batch rewrote its whole
# row (2 KB for 200 numbers) and the table's pages held one batch each.
_V3 = """
CREATE TABLE IF NOT EXISTS held (
    hi            INTEGER PRIMARY KEY,
    campaign      INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    members       TEXT NOT NULL,
    member_params TEXT
);
INSERT INTO held (hi, campaign, seq, members, member_params)
    SELECT hi, campaign, seq, members, member_params FROM batches WHERE members IS NOT NULL;
DROP INDEX IF EXISTS batches_holding_members;
ALTER TABLE batches DROP COLUMN members;
ALTER TABLE batches DROP COLUMN member_params
"""

# Version 3 kept each held batch's numbers in its own row, as text: 2.6 KB for
# 200 numbers, so a row a page, and the whole block went to SQLite as JSON.
# The rows brought over keep their text (``store`` reads either form).
_V4 = """
CREATE TABLE IF NOT EXISTS blocks (
    lo       INTEGER PRIMARY KEY,
    campaign INTEGER NOT NULL,
    hi       INTEGER NOT NULL,
    numbers  BLOB NOT NULL,
    params   TEXT
);
INSERT INTO blocks (lo, campaign, hi, numbers, params)
    SELECT b.lo, h.campaign, h.hi, h.members, h.member_params
    FROM held AS h JOIN batches AS b ON b.campaign = h.campaign AND b.seq = h.seq;
ALTER TABLE held DROP COLUMN members;
ALTER TABLE held DROP COLUMN member_params
"""

# Version 5: a campaign's inputs are part of its identity (``campaigns.identity``):
# the fingerprints (size and hash) of its list and exclude lists, as JSON; "" for
# a campaign created before, whose inputs are then never compared.
_V5 = """
ALTER TABLE campaigns ADD COLUMN inputs TEXT NOT NULL DEFAULT ''
"""

#: MIGRATIONS[i] brings a file from version i to i + 1
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5)


class SchemaTooNew(Exception):
    """The file was written by a newer bulksend."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to ``SCHEMA_VERSION``; returns the version found."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"journal schema version {found}; this bulksend reads up to {SCHEMA_VERSION}")
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[found:]:
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            conn.execute("ROLLBACK")
        raise
    return found
