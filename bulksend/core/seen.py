"""Which numbers a campaign has already taken, in 8 bytes a number.

A campaign skips a number it has seen before (the first occurrence is the
one sent). A Python ``set`` of ints costs about 60 bytes a number, so ten
million numbers would take 600 MB; ``SeenNumbers`` keeps them as sorted
runs of 64-bit integers and answers a whole block at once in numpy.

A lookup in the runs is a binary search per run, which misses the cache on
big runs. Most numbers of a list are new, so a bit filter answers first
(16 bits a number, one hash): a number whose bit is clear was certainly not
seen, and only the few with their bit set are searched for in the runs.

Runs are merged like a binary counter (a new run is merged into the one
below while that one is no bigger), so each number is copied about
``log2(n / block)`` times. A run stops growing at ``RUN_CAP`` numbers: the
last merge then never needs more than ``2 * RUN_CAP * 8`` bytes of scratch,
however long the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

RUN_CAP = 1 << 21  # 16 MB a run
BITS_PER_KEY = 16
_MIN_BITS = 1 << 20
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the top bits

Keys = npt.NDArray[np.int64]


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
        self._runs: list[Keys] = []
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
            probe = distinct[maybe]
            found = np.zeros(len(probe), dtype=np.bool_)
            for run in self._runs:
                pos = np.searchsorted(run, probe)
                np.minimum(pos, len(run) - 1, out=pos)
                found |= run[pos] == probe
            unseen[maybe] = ~found
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
        for run in self._runs:
            self._mark(run)

    def _push(self, new: Keys) -> None:
        if not len(new):
            return
        self._count += len(new)
        runs = self._runs
        runs.append(new)
        if self._count * BITS_PER_KEY > len(self._filter) * 8:
            self._grow_filter()
        else:
            self._mark(new)
        while len(runs) > 1 and len(runs[-2]) <= len(runs[-1]) * 2 and \
                len(runs[-2]) + len(runs[-1]) <= RUN_CAP:
            top = runs.pop()
            merged = np.concatenate((runs[-1], top))
            merged.sort(kind="stable")  # two sorted runs: one linear merge
            runs[-1] = merged
