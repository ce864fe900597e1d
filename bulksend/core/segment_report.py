"""Human and machine views of a segment count (``bulksend count``).

Pure: values in, text out. The segments are drawn so a person sees where
each one ends, with invisible characters made visible and the characters
that forced UCS-2 highlighted.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import regex  # type: ignore[import-untyped]

from bulksend.core.segments import Encoding, SegmentInfo
from bulksend.core.smart_encoding import LOOKALIKES, SmartResult

_CLUSTER_RE = regex.compile(r"\X")

_WRAP = 72  # display columns of segment text per line
_VISIBLE = {"\n": "␤", "\r": "␍", "\t": "␉", "\f": "␌", "\x1b": "␛", "\x7f": "␡", "\u2028": "␤"}
_UNNAMED = {"\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE"}
_REPLACEMENT_NAMES = {"": "nothing", " ": "space", "\n": "line feed"}
_REVERSE_RED, _RESET, _BOLD = "\x1b[7;31m", "\x1b[0m", "\x1b[1m"


def char_name(char: str) -> str:
    """The Unicode name of ``char``, or a readable stand-in for controls."""
    return unicodedata.name(char, "") or _UNNAMED.get(char) or f"<{unicodedata.category(char)}>"


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def info_to_dict(info: SegmentInfo) -> dict[str, Any]:
    """``info`` as plain JSON-ready values."""
    return {
        "encoding": info.encoding.value,
        "characters": info.characters,
        "units": info.units,
        "segments": info.segments,
        "segment_units": list(info.segment_units),
        "units_left": info.units_left,
        "non_gsm": [{"char": c, "codepoint": codepoint(c), "name": char_name(c)} for c in info.non_gsm],
        "segment_texts": list(info.segment_texts),
    }


def smart_to_dict(result: SmartResult) -> dict[str, Any]:
    """What smart encoding did, as plain JSON-ready values."""
    return {
        "text": result.text,
        "replacements": [
            {"char": old, "codepoint": codepoint(old), "replacement": new, "count": count}
            for old, new, count in result.replacements
        ],
        "segments_saved": result.segments_saved,
        "before": info_to_dict(result.before),
    }


def render_breakdown(info: SegmentInfo, *, color: bool) -> str:
    """A multi-line report a person can read: totals, then every segment.

    Characters that forced UCS-2 are listed with code point and name, and
    highlighted inside the segments (reverse red, or ``[...]`` without color);
    invisible characters are drawn as visible symbols.
    """
    limit = info.per_segment_limit
    lines = [
        f"Encoding    {info.encoding.value}",
        f"Characters  {info.characters}",
        f"Units       {info.units} {info.unit_name}",
        f"Segments    {info.segments} (up to {limit} {info.unit_name} each)",
        f"Units left  {info.units_left} in the last segment",
    ]
    lines += _non_gsm_lines(info.non_gsm, color)
    forced = frozenset(info.non_gsm)
    for index, (text, units) in enumerate(zip(info.segment_texts, info.segment_units), 1):
        title = f"Segment {index}/{info.segments}: {units}/{limit} {info.unit_name}"
        lines.append("")
        lines.append(f"{_BOLD}{title}{_RESET}" if color else title)
        lines += _segment_lines(text, forced, color)
    return "\n".join(lines) + "\n"


def _non_gsm_lines(non_gsm: tuple[str, ...], color: bool) -> list[str]:
    lines = []
    for i, char in enumerate(non_gsm):
        label = "Not GSM-7  " if i == 0 else " " * 11
        shown = _highlight(_visible(char), color)
        lines.append(f"{label} {codepoint(char):<8} {shown}  {char_name(char)}")
    return lines


def _highlight(text: str, color: bool) -> str:
    return f"{_REVERSE_RED}{text}{_RESET}" if color else f"[{text}]"


def _visible(cluster: str) -> str:
    """How to draw a grapheme cluster so that nothing in it is invisible."""
    if unicodedata.category(cluster[0]).startswith("M"):
        return "◌" + cluster  # a mark with no base (at the start of a segment)
    if any(c.isprintable() for c in cluster):
        return cluster  # e.g. an emoji ZWJ sequence: draw the emoji, not its joiners
    return "".join(_VISIBLE.get(c) or _symbol(c) for c in cluster)


def _symbol(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc" and ord(char) < 0x20:
        return chr(0x2400 + ord(char))  # the Control Pictures block
    if category.startswith("Z"):
        return "·"  # a space other than U+0020, e.g. NBSP
    if category == "Cf":
        return "¦"  # zero-width: ZWSP, word joiner, BOM...
    return "\ufffd"


def _width(cluster: str) -> int:
    return 2 if any(unicodedata.east_asian_width(c) in "WF" for c in cluster) else 1


def _segment_lines(text: str, forced: frozenset[str], color: bool) -> list[str]:
    """One segment, wrapped at cluster boundaries, framed by │ so that its end
    (trailing spaces included) shows."""
    rows: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for cluster in _CLUSTER_RE.findall(text):
        shown = _visible(cluster)
        if used + _width(cluster) > _WRAP:
            rows.append([])
            used = 0
        rows[-1].append((shown, not forced.isdisjoint(cluster)))
        used += _width(cluster)
    lines = ["  │" + _join_cells(row, color) for row in rows]
    lines[-1] += "│"
    return lines


def _join_cells(row: list[tuple[str, bool]], color: bool) -> str:
    """Draw a row, highlighting each run of flagged cells as one block."""
    out: list[str] = []
    run: list[str] = []
    for shown, flagged in row:
        if flagged:
            run.append(shown)
            continue
        if run:
            out.append(_highlight("".join(run), color))
            run = []
        out.append(shown)
    if run:
        out.append(_highlight("".join(run), color))
    return "".join(out)


def render_smart(result: SmartResult, *, color: bool) -> str:
    """What smart encoding replaced and what it saved, as lines of text."""
    before, after = result.before, result.after
    if not result.replacements:
        why = "already GSM-7" if before.encoding is Encoding.GSM7 else _kept_reason(before)
        return f"Smart encoding: no change ({why})\n"
    lines = [
        f"Smart encoding: {before.encoding.value} → {after.encoding.value}, "
        f"{before.segments} → {after.segments} segments (saved {result.segments_saved})"
    ]
    for old, new, count in result.replacements:
        shown = _highlight(_visible(old), color)
        lines.append(f"  {codepoint(old):<8} {shown} → {_REPLACEMENT_NAMES.get(new, repr(new))}  ×{count}  {char_name(old)}")
    return "\n".join(lines) + "\n"


def _kept_reason(before: SegmentInfo) -> str:
    if any(c in LOOKALIKES for c in before.non_gsm):
        return "replacing look-alikes would not make it GSM-7 without costing more segments"
    return "no look-alikes to replace"
