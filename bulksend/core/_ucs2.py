"""Where UCS-2 segments end: UTF-16 code units, surrogate pairs, grapheme clusters.

Private to ``bulksend.core.segments``, whose docstring holds the counting
model and why this is fast. Text in, cut positions out; no state but a
per-code-point table that fills itself on first sight.
"""

from __future__ import annotations

import sys

import regex  # type: ignore[import-untyped]

# In UTF-16-LE, a low surrogate (DC00-DFFF) has one of these as its high byte.
_LOW_SURROGATE_HIGH_BYTES = bytes(range(0xDC, 0xE0))
# Where unit 0's high byte sits in ``str.encode("utf-16")``: after the BOM.
_HIGH = 3 if sys.byteorder == "little" else 2

CLUSTER_RE = regex.compile(r"\X")
# Code points that can be glued to a neighbour by UAX #29 (rules GB6-GB13).
# Two adjacent code points outside this class are always a cluster boundary,
# except CR LF (GB3), which is checked apart.
_JOINER_RE = regex.compile(
    r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Prepend}"
    r"\p{GCB=Regional_Indicator}\p{GCB=L}\p{GCB=V}\p{GCB=T}]"
)


class _JoinTable(dict[str, bool]):
    """Code point -> whether it can be glued to a neighbour, filled on first sight.

    A dict lookup, not a function call, because it runs at every cut.
    """

    def __missing__(self, char: str) -> bool:
        joins = self[char] = _JOINER_RE.match(char) is not None
        return joins


JOINS = _JoinTable()


def utf16_units(text: str) -> int:
    """UTF-16 code units of ``text`` (which has no lone surrogate)."""
    # "utf-16" (a BOM, then native byte order) is the UTF-16 codec CPython
    # runs without a codec registry lookup: ~0.3 µs less than "utf-16-le".
    return (len(text.encode("utf-16")) >> 1) - 1


def cut_ucs2(text: str, data: bytes, total: int, limit: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Greedy segments of at most ``limit`` code units: (units of each, text of each).

    ``data`` is ``text.encode("utf-16")`` and ``total`` its code units. A
    segment's end is read off the high bytes of the next ``limit`` units: each
    low surrogate is one code point fewer, and a final high surrogate is half
    an astral character that does not fit.
    """
    units: list[int] = []
    texts: list[str] = []
    joins, lows = JOINS, _LOW_SURROGATE_HIGH_BYTES
    start = floor = done = 0  # floor: the latest position known to be a cluster boundary
    while total - done > limit:
        high = data[_HIGH + 2 * done : _HIGH + 2 * (done + limit) : 2]
        end = start + len(high.translate(None, lows))
        size = limit
        if 0xD8 <= high[-1] <= 0xDB:
            end -= 1
            size -= 1
        before, after = text[end - 1], text[end]
        if joins[before] or joins[after] or (before == "\r" and after == "\n"):
            cut, floor = _cluster_cut(text, start, end, floor, limit)
            if cut != end:
                size -= utf16_units(text[cut:end])
        else:
            cut = floor = end
        if not done and total - size <= limit:  # the usual long message: one cut
            return (size, total - size), (text[:cut], text[cut:])
        units.append(size)
        texts.append(text[start:cut])
        start, done = cut, done + size
    units.append(total - done)
    texts.append(text[start:])
    return tuple(units), tuple(texts)


def _cluster_cut(text: str, start: int, end: int, floor: int, limit: int) -> tuple[int, int]:
    """Pull a cut back to the start of the grapheme cluster it would split.

    Returns the cut and the new floor (a position known to be a boundary).
    ``\\X`` has to start on a cluster boundary, so step back to the nearest
    position whose two neighbours cannot join (a few code points, typically),
    or to ``floor``, which is known to be one.
    """
    joins = JOINS
    first = end - 1
    after = joins[text[first]]
    while first > floor:
        before = joins[text[first - 1]]
        if not (before or after or (text[first - 1] == "\r" and text[first] == "\n")):
            break
        first, after = first - 1, before
    match = CLUSTER_RE.match
    last: int
    while (last := match(text, first).end()) < end:
        first = last
    if last == end:
        return end, end
    if first > start and (2 * (last - first) <= limit or utf16_units(text[first:last]) <= limit):
        return first, first
    # A cluster no segment can hold (see segments' docstring): cut inside it.
    return end, first
