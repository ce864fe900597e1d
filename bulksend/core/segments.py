"""How many SMS segments a text costs, and where each one ends.

Counting model (3GPP TS 23.038/23.040; vectors in tests/core/test_segments.py)
-------------------------------------------------------------------------------
A message is GSM-7 when every character is in the GSM 03.38 basic table
(1 septet) or its extension table (ESC + code, 2 septets); otherwise the whole
message is UCS-2 and each character costs its UTF-16 length (an astral
character is a surrogate pair: 2 units). One segment holds 160 septets or 70
units; a message that needs more is concatenated and each part holds 153 or
67, the rest being the 6-octet concatenation header. No Unicode normalization
is applied: providers bill the code points they are given.

Segments are filled greedily. A cut never falls inside an escape pair, a
surrogate pair or an extended grapheme cluster (UAX #29, which makes CR LF one
cluster too): what does not fit moves whole to the next segment and the space
left behind is wasted, which is why the count is not ``ceil(units / 153)``.
An escape pair and a surrogate pair are each a single Python code point, so
cutting between code points respects them for free.

The one exception is a grapheme cluster too big for even an empty segment (a
letter carrying dozens of combining marks). It is cut at code point
boundaries, so never inside a surrogate pair, starting in the current segment:
such a cluster is broken whatever we do, and wasting space would only cost
money. Without this rule counting would never finish.

Why it is fast
--------------
Counting runs once per message of a campaign, so nothing on the way walks the
text one character at a time in Python; the Python-level work is a few steps
per segment, and everything per character runs in C:

* the encoding is one precompiled ``re`` match (the basic table, up to the
  first character outside it);
* plain GSM-7 text is cut by arithmetic: every 153 code points (with a CR,
  a cut that would split CR LF moves back one);
* other GSM-7 text first finds its few extension characters, the basic-table
  regex running between them; each one inside a segment makes it one code
  point shorter;
* UCS-2 text is encoded once, with ``str.encode("utf-16")``: the one UTF-16
  codec CPython runs without a codec registry lookup. As many units as code
  points means no astral character; then, without a CR, the text is cut by
  arithmetic every 67 code points like plain GSM-7, provided neither code
  point around any cut can join a grapheme cluster (a dict lookup each);
* other UCS-2 text (``_ucs2``) reads a segment's end off the high bytes of
  the next 67 units (count the low surrogates, in C). Once a cut is placed,
  only the two code points around it are looked at: when neither can join a
  cluster the cut stands; otherwise clusters are found with ``regex``'s
  ``\\X``, from the nearest earlier point known to be a cluster boundary;
* a ``SegmentInfo`` is built on a slotted twin whose class then becomes
  SegmentInfo (``_info``): the frozen dataclass ``__init__``, three
  ``object.__setattr__`` calls and a check, costs more than all the rest of
  counting a short message.

``SegmentInfo`` stores only the cut; its figures are derived when read
(``non_gsm``, the distinct characters, is per-character work a campaign never
needs).

``_count_exact`` is the slow, obvious version (every cluster, one by one);
the tests use it as the oracle the fast version must always agree with.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bulksend.core._ucs2 import CLUSTER_RE, JOINS, cut_ucs2

# 127 characters: the 128-entry 3GPP TS 23.038 table without ESC (0x1B), which
# introduces the extension table and is not a character a user can type.
# The Greek capitals are written as escapes so no Latin look-alike sneaks in.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e"
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each costs 2 septets in GSM-7 (ESC + code), 1 unit in UCS-2.
GSM_EXTENSION = "\f^{}\\[~]|€"
GSM_CHARACTERS = frozenset(GSM_BASIC + GSM_EXTENSION)


class Encoding(str, enum.Enum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


GSM7_SINGLE, GSM7_CONCATENATED = 160, 153
UCS2_SINGLE, UCS2_CONCATENATED = 70, 67
_LIMITS = {Encoding.GSM7: (GSM7_SINGLE, GSM7_CONCATENATED), Encoding.UCS2: (UCS2_SINGLE, UCS2_CONCATENATED)}
_UNIT_NAMES = {Encoding.GSM7: "septets", Encoding.UCS2: "UTF-16 code units"}

_GSM_BASIC_RE = re.compile(f"[{re.escape(GSM_BASIC)}]*")
_GSM_RE = re.compile(f"[{re.escape(GSM_BASIC + GSM_EXTENSION)}]*")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What a message costs, and how it is cut.

    Only the cut is stored; every figure is derived from it, so none can
    disagree with another, and counting does not pay for what is never read.
    """

    encoding: Encoding
    segment_units: tuple[int, ...]  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segment_texts: tuple[str, ...]  # concatenated, they give back the text

    def __post_init__(self) -> None:
        if not len(self.segment_units) == len(self.segment_texts) >= 1:
            raise ValueError("segment_units and segment_texts must pair up, one segment at least")

    @property
    def characters(self) -> int:
        """Code points."""
        return sum(map(len, self.segment_texts))

    @property
    def units(self) -> int:
        """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
        return sum(self.segment_units)

    @property
    def segments(self) -> int:
        return len(self.segment_units)

    @property
    def units_left(self) -> int:
        """Room left in the last segment."""
        return self.per_segment_limit - self.segment_units[-1]

    @property
    def per_segment_limit(self) -> int:
        """Units one segment of this message may hold."""
        single, concatenated = _LIMITS[self.encoding]
        return single if len(self.segment_units) == 1 else concatenated

    @property
    def non_gsm(self) -> tuple[str, ...]:
        """Distinct characters that forced UCS-2, in order of first appearance."""
        if self.encoding is Encoding.GSM7:
            return ()
        # dict.fromkeys dedupes at C speed and keeps first-appearance order.
        return tuple(c for c in dict.fromkeys("".join(self.segment_texts)) if c not in GSM_CHARACTERS)

    @property
    def unit_name(self) -> str:
        return _UNIT_NAMES[self.encoding]


def is_gsm7(text: str) -> bool:
    """True when ``text`` can be sent as GSM-7 (basic or extension table)."""
    return _GSM_RE.fullmatch(text) is not None


def count_segments(text: str) -> SegmentInfo:
    """Count the segments ``text`` costs. Pure and fast; see the module doc."""
    count = len(text)
    basic = _GSM_BASIC_RE.match(text)  # `*`: always matches, maybe nothing
    plain = basic.end() if basic else 0
    if plain == count:
        if count <= GSM7_SINGLE:
            return _info(_GSM7, (count,), (text,))
        units, texts = _cut_even(text, GSM7_CONCATENATED)
        return _info(_GSM7, units, texts)
    if text[plain] in GSM_EXTENSION:
        wide = _extension_positions(text, plain)
        if wide is not None:
            return _count_gsm7(text, wide)
    return _count_ucs2(text)


# Enum members are slow to look up (~80 ns in Python 3.11): counting reads these.
_GSM7, _UCS2 = Encoding.GSM7, Encoding.UCS2


class _Unfrozen:
    """SegmentInfo's twin, minus the frozen ``__setattr__``."""

    __slots__ = SegmentInfo.__slots__


def _info(encoding: Encoding, units: tuple[int, ...], texts: tuple[str, ...]) -> SegmentInfo:
    """A SegmentInfo, built without the dataclass ``__init__``.

    A frozen dataclass sets each field through ``object.__setattr__`` and then
    validates: about 0.5 µs, more than all the rest of counting a short
    message. Our cuts are valid by construction (the tests compare every count
    with one built the ordinary way), so the fields are set on a twin with the
    same slots, which then becomes a SegmentInfo (CPython checks that the
    layouts match).
    """
    info = _Unfrozen()
    info.encoding, info.segment_units, info.segment_texts = encoding, units, texts  # type: ignore[attr-defined]
    info.__class__ = SegmentInfo  # type: ignore[assignment]
    return info  # type: ignore[return-value]


def _cut_even(text: str, limit: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Cut text of one unit per code point, and no joiner, every ``limit`` code points.

    A cut that would split CR LF moves back one.
    """
    count = len(text)
    if "\r" not in text:
        if count <= 2 * limit:  # the usual long message: one cut
            return (limit, count - limit), (text[:limit], text[limit:])
        texts = tuple([text[at : at + limit] for at in range(0, count, limit)])
        return tuple(map(len, texts)), texts
    cuts: list[str] = []
    start = 0
    while count - start > limit:
        end = start + limit
        if text[end - 1] == "\r" and text[end] == "\n":
            end -= 1
        cuts.append(text[start:end])
        start = end
    cuts.append(text[start:])
    return tuple(map(len, cuts)), tuple(cuts)


def _extension_positions(text: str, start: int = 0) -> list[int] | None:
    """Where the extension characters are, if ``text`` from ``start`` is all GSM-7; else None.

    One pass: the basic-table regex (C) runs between extension characters,
    which are few, so the text is scanned once and the positions come free.
    """
    found: list[int] = []
    match, extension, end = _GSM_BASIC_RE.match, GSM_EXTENSION, len(text)
    pos = start
    while pos < end:
        if text[pos] not in extension:
            return None  # not in either table: the whole message is UCS-2
        found.append(pos)
        pos = match(text, pos + 1).end()  # type: ignore[union-attr]  # `*`: always matches
    return found


def _count_gsm7(text: str, wide: list[int]) -> SegmentInfo:
    """Cut GSM-7 text; ``wide`` holds the sorted positions of its extension characters."""
    count = len(text) + len(wide)
    if count <= GSM7_SINGLE:
        return _info(_GSM7, (count,), (text,))
    units, texts = _cut_gsm7(text, wide, count, GSM7_CONCATENATED)
    return _info(_GSM7, units, texts)


def _cut_gsm7(text: str, wide: list[int], count: int, limit: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(units, text) of each segment of a GSM-7 text of ``count`` septets.

    A segment is ``limit`` code points, one fewer for each extension character
    inside it; when the last septet would be the ESC of a pair, or a CR
    followed by LF, the cut moves back one. No other GSM-7 character joins a
    grapheme cluster.
    """
    units: list[int] = []
    texts: list[str] = []
    wide = [*wide, count]  # a sentinel past the end: no bounds check below
    cr = "\r" in text
    start = done = k = 0  # k: the next extension character, by index in ``wide``
    while count - done > limit:
        end = start + limit
        first = k
        while wide[k] < end - 1:
            end -= 1
            k += 1
        if wide[k] == end - 1 or (cr and text[end - 1] == "\r" and text[end] == "\n"):
            end -= 1
        size = end - start + k - first
        units.append(size)
        texts.append(text[start:end])
        start = end
        done += size
    units.append(count - done)
    texts.append(text[start:])
    return tuple(units), tuple(texts)


def _count_ucs2(text: str) -> SegmentInfo:
    try:
        data = text.encode("utf-16")  # a BOM, then native order: see _ucs2.utf16_units
    except UnicodeEncodeError:
        # Lone surrogates (from surrogateescape'd input) are a pair in the
        # UTF-16 bytes but two code points in the str; count them one by one.
        return _count_exact(text)
    total = (len(data) >> 1) - 1
    if total <= UCS2_SINGLE:
        return _info(_UCS2, (total,), (text,))
    limit = UCS2_CONCATENATED
    if total == len(text) and "\r" not in text:
        # No astral character, no CR LF: a cut every ``limit`` code points,
        # unless one lands next to a code point that may join a cluster.
        joins = JOINS
        if total <= 2 * limit:  # the usual long message: one cut
            if not (joins[text[limit - 1]] or joins[text[limit]]):
                return _info(_UCS2, (limit, total - limit), (text[:limit], text[limit:]))
        elif not any(joins[text[cut - 1]] or joins[text[cut]] for cut in range(limit, total, limit)):
            units, texts = _cut_even(text, limit)
            return _info(_UCS2, units, texts)
    units, texts = cut_ucs2(text, data, total, limit)
    return _info(_UCS2, units, texts)


# --- the reference implementation ------------------------------------------


def _count_exact(text: str) -> SegmentInfo:
    """The slow, obvious count: every grapheme cluster, one at a time.

    Kept as the oracle the tests check ``count_segments`` against.
    """
    encoding = Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2
    wide_chars = GSM_EXTENSION if encoding is Encoding.GSM7 else None
    clusters: list[str] = CLUSTER_RE.findall(text)
    costs = [sum(_exact_cost(c, wide_chars) for c in cluster) for cluster in clusters]
    single, limit = _LIMITS[encoding]
    if (total := sum(costs)) <= single:
        return SegmentInfo(encoding, (total,), (text,))
    texts: list[str] = []
    units: list[int] = []
    for atom, cost in _atoms(clusters, costs, limit, wide_chars):
        if not units or units[-1] + cost > limit:
            texts.append("")
            units.append(0)
        texts[-1] += atom
        units[-1] += cost
    return SegmentInfo(encoding, tuple(units), tuple(texts))


def _exact_cost(char: str, wide_chars: str | None) -> int:
    if wide_chars is not None:
        return 2 if char in wide_chars else 1
    return 2 if ord(char) > 0xFFFF else 1


def _atoms(
    clusters: list[str], costs: list[int], limit: int, wide_chars: str | None
) -> Iterator[tuple[str, int]]:
    """Clusters with their cost; one too big for any segment, code point by code point."""
    for cluster, cost in zip(clusters, costs):
        if cost <= limit:
            yield cluster, cost
        else:
            yield from ((c, _exact_cost(c, wide_chars)) for c in cluster)
