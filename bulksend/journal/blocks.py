"""A block's members in one ``blocks`` row: packed when written, cut when read.

A block of the list read while it is sent goes into the journal as one row:
its numbers as little-endian int64, eight bytes each, made by numpy from the
keys the reader already has (no string per number, no JSON), and its
template values, if any, as one JSON list. A batch *held* in a block is ids
``lo``..``hi`` of it. A file brought up from schema version 3 holds a
batch's numbers as comma-joined text in a block of its own; both forms read
the same.

Like ``store``, no threads and no asyncio: it runs on the journal's thread.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import orjson

from bulksend.core.seen import Keys, as_keys

NUMBER = np.dtype("<i8")
_WIDTH = NUMBER.itemsize

#: ``(id, msisdn, params as JSON text or None)``, as the journal's other rows read
Member = tuple[int, str, "str | None"]


def pack(keys: Keys) -> bytes:
    """A block's numbers (int64 keys, in id order) as stored."""
    return np.ascontiguousarray(keys, dtype=NUMBER).tobytes()


def keys_of(numbers: bytes | str) -> Keys:
    """Every number of a block row, as int64 keys."""
    if isinstance(numbers, str):
        return as_keys(numbers.split(","))
    return np.frombuffer(numbers, dtype=NUMBER).astype(np.int64)


def cut_numbers(numbers: bytes | str, start: int, stop: int) -> list[str]:
    """Members ``start``..``stop - 1`` (offsets into the block) as msisdn strings."""
    if isinstance(numbers, str):
        return numbers.split(",")[start:stop]
    part = np.frombuffer(numbers, dtype=NUMBER, count=stop - start, offset=start * _WIDTH)
    return [str(n) for n in part.tolist()]


class BlockReader:
    """Reads held batches' members; a block is fetched, and its template values
    parsed, once however many of its batches are read one after another."""

    __slots__ = ("_conn", "_lo", "_hi", "_numbers", "_raw_params", "_params")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lo = self._hi = 0
        self._numbers: bytes | str | None = None
        self._raw_params: str | None = None
        self._params: list[Any] | None = None

    def numbers(self, lo: int, hi: int) -> list[str] | None:
        """The msisdns of ids ``lo``..``hi``; None when no block holds them all."""
        if not self._load(lo, hi):
            return None
        assert self._numbers is not None
        return cut_numbers(self._numbers, lo - self._lo, hi - self._lo + 1)

    def params(self, lo: int, hi: int) -> list[Any] | None:
        """The template values of ids ``lo``..``hi``; None for a static body."""
        if not self._load(lo, hi) or not self._raw_params:
            return None
        if self._params is None:
            self._params = orjson.loads(self._raw_params)
        return self._params[lo - self._lo:hi - self._lo + 1]

    def members(self, lo: int, hi: int) -> list[Member] | None:
        """``(id, msisdn, params)`` of ids ``lo``..``hi``; None when no block holds them."""
        numbers = self.numbers(lo, hi)
        if numbers is None:
            return None
        params = self.params(lo, hi)
        if params is None:
            return [(lo + i, n, None) for i, n in enumerate(numbers)]
        return [(lo + i, n, orjson.dumps(p).decode() if p else None)
                for i, (n, p) in enumerate(zip(numbers, params))]

    def _load(self, lo: int, hi: int) -> bool:
        if self._numbers is not None and self._lo <= lo and hi <= self._hi:
            return True
        row = self._conn.execute("SELECT lo, hi, numbers, params FROM blocks WHERE lo <= ? "
                                 "ORDER BY lo DESC LIMIT 1", (lo,)).fetchone()
        if row is None or row[1] < hi:
            return False
        self._lo, self._hi, self._numbers, self._raw_params = row
        self._params = None
        return True
