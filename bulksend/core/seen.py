"""Which numbers a campaign has already taken, in about 5 bytes a number.

A campaign skips a number it has seen before (the first occurrence is the
one sent). A Python ``set`` of ints costs about 60 bytes a number, so ten
million numbers would take 600 MB; ``SeenNumbers`` keeps them as sorted
runs of integers and answers a whole block at once in numpy.

A number (at most 15 digits) is split into its high and low 32 bits. The
numbers of one list share a handful of high words (one country's mobile
ranges span a few), so each high word has its own runs of 32-bit low
words: 4 bytes a number instead of 8.

A lookup in the runs is a binary search per run, which misses the cache on
big runs. Most numbers of a list are new, so a bit filter answers first (6
to 12 bits a number, one hash): a number whose bit is clear was certainly
not seen, and only the few with their bit set are searched for in the runs.

Runs are merged like a binary counter (a new run is merged into the one
below while that one is no more than twice its size), so each number is
copied about ``log2(n / block)`` times. A run stops growing at ``RUN_CAP``
numbers: a merge then never needs more than ``2 * RUN_CAP * 4`` bytes of
scratch, however long the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

RUN_CAP = 1 << 20  # 4 MB a run
BITS_PER_KEY = 6  # at least; the filter doubles below that, so 6 to 12 bits a number
_MIN_BITS = 1 << 20
_REMARK = 1 << 16
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the top bits

Keys = npt.NDArray[np.int64]
Lows = npt.NDArray[np.uint32]


def as_keys(numbers: Sequence[str] | Sequence[int]) -> Keys:
    """Normalized numbers (digits only, at most 15) as int64 keys.

    Strings are parsed by numpy from one joined text: a quarter of the cost
    of ``int()`` on each.
    """
    if not numbers:
        return np.empty(0, dtype=np.int64)
    if isinstance(numbers[0], str):
        keys = np.fromstring("\n".join(numbers), dtype=np.int64, sep="\n")  # type: ignore[arg-type]
        if len(keys) == len(numbers):
            return keys
        return np.array([int(n) for n in numbers], dtype=np.int64)
    return np.array(numbers, dtype=np.int64)


class SeenNumbers:
    """A growing set of int64 keys, queried and extended a block at a time."""

    __slots__ = ("_runs", "_count", "_filter", "_shift")

    def __init__(self, keys: Iterable[Keys] = ()) -> None:
        #: per high word, its sorted runs of low words
        self._runs: dict[int, list[Lows]] = {}
        self._count = 0
        self._filter = np.zeros(_MIN_BITS // 8, dtype=np.uint8)
        self._shift = np.uint64(64 - _MIN_BITS.bit_length() + 1)
        for chunk in keys:
            self.take(chunk)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        probe = np.array([key], dtype=np.int64)
        return not bool(self._unseen(probe)[0])

    def take(self, keys: Keys) -> npt.NDArray[np.bool_]:
        """Add ``keys``; returns a mask of those taken now.

        A key is taken when it is in no earlier block and is its first
        occurrence in this one; every other position is False.
        """
        mask = np.zeros(len(keys), dtype=np.bool_)
        if not len(keys):
            return mask
        distinct, first = np.unique(keys, return_index=True)
        unseen = self._unseen(distinct)
        mask[first[unseen]] = True
        self._push(distinct[unseen])
        return mask

    def _unseen(self, distinct: Keys) -> npt.NDArray[np.bool_]:
        slot = self._slots(distinct)
        maybe: npt.NDArray[np.bool_] = (self._filter[slot >> 3] & (1 << (slot & 7)).astype(np.uint8)) != 0
        unseen: npt.NDArray[np.bool_] = ~maybe
        if maybe.any():
            where = np.flatnonzero(maybe)
            for high, part in _by_high(distinct[where]):
                found = np.zeros(len(part), dtype=np.bool_)
                for run in self._runs.get(high, ()):
                    pos = np.searchsorted(run, part)
                    np.minimum(pos, len(run) - 1, out=pos)
                    found |= run[pos] == part
                unseen[where[_at(distinct[where], high)]] = ~found
        return unseen

    def _slots(self, keys: Keys) -> npt.NDArray[np.uint64]:
        return (keys.view(np.uint64) * _MIX) >> self._shift

    def _mark(self, keys: Keys) -> None:
        slot = self._slots(keys)
        np.bitwise_or.at(self._filter, slot >> 3, (1 << (slot & 7)).astype(np.uint8))

    def _grow_filter(self) -> None:
        bits = len(self._filter) * 8
        while self._count * BITS_PER_KEY > bits:
            bits *= 2
        self._filter = np.zeros(bits // 8, dtype=np.uint8)
        self._shift = np.uint64(64 - bits.bit_length() + 1)
        for high, runs in self._runs.items():
            top = np.int64(high) << np.int64(32)
            for run in runs:
                for start in range(0, len(run), _REMARK):  # in slices: a run's temporaries would be 8x its size
                    self._mark(top | run[start:start + _REMARK].astype(np.int64))

    def _push(self, new: Keys) -> None:
        if not len(new):
            return
        self._count += len(new)
        for high, lows in _by_high(new):
            runs = self._runs.setdefault(high, [])
            runs.append(lows)
            while len(runs) > 1 and len(runs[-2]) <= len(runs[-1]) * 2 and \
                    len(runs[-2]) + len(runs[-1]) <= RUN_CAP:
                top = runs.pop()
                merged = np.concatenate((runs[-1], top))
                merged.sort(kind="stable")  # two sorted runs: one linear merge
                runs[-1] = merged
        if self._count * BITS_PER_KEY > len(self._filter) * 8:
            self._grow_filter()
        else:
            self._mark(new)


def _by_high(keys: Keys) -> list[tuple[int, Lows]]:
    """Sorted ``keys`` split by their high 32 bits: ``(high, sorted low words)``."""
    highs = keys >> np.int64(32)
    lows = (keys & np.int64(0xFFFFFFFF)).astype(np.uint32)
    if highs[0] == highs[-1]:  # one high word: the usual block
        return [(int(highs[0]), lows)]
    cuts = np.flatnonzero(np.diff(highs)) + 1
    starts = np.concatenate(([0], cuts))
    return [(int(highs[i]), part) for i, part in zip(starts, np.split(lows, cuts))]


def _at(keys: Keys, high: int) -> npt.NDArray[np.bool_]:
    result: npt.NDArray[np.bool_] = (keys >> np.int64(32)) == high
    return result
