"""Segment counting: reference vectors (3GPP TS 23.038/23.040 cases),
boundary tables, properties (hypothesis), smart encoding, reports and the
``bulksend count`` command."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import orjson
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.cli import count as count_cli
from bulksend.cli import main
from bulksend.core.segment_report import info_to_dict, render_breakdown, render_smart
from bulksend.core.segments import (
    GSM_BASIC,
    GSM_EXTENSION,
    Encoding,
    SegmentInfo,
    _count_exact,
    count_segments,
    is_gsm7,
)
from bulksend.core.smart_encoding import smart_encode

GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: 11 units
FLAG = "\U0001f1f8\U0001f1ea"  # 🇸🇪: two regional indicators, 4 units
GRIN = "\U0001f600"  # 😀: 2 units
ZH = "ж"  # a 1-unit UCS-2 filler


# --- reference vectors ---------------------------------------------------------

REFERENCE = [
    ("", GSM7, 1),
    ("a" * 160, GSM7, 1),
    ("a" * 161, GSM7, 2),
    ("a" * 306, GSM7, 2),
    ("a" * 307, GSM7, 3),
    ("€" + "a" * 158, GSM7, 1),
    ("€" + "a" * 159, GSM7, 2),
    ("^" * 80, GSM7, 1),
    ("^" * 81, GSM7, 2),
    ("中" * 70, UCS2, 1),
    ("中" * 71, UCS2, 2),
    ("😜" + "1" * 68, UCS2, 1),
    ("😜" + "1" * 69, UCS2, 2),
    ("😀" * 35, UCS2, 1),
    ("Hi there! How are you?", GSM7, 1),
    ("Привет! Как дела?", UCS2, 1),
]


@pytest.mark.parametrize(("text", "encoding", "segments"), REFERENCE)
def test_reference_vectors(text: str, encoding: Encoding, segments: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.segments) == (encoding, segments)
    assert _count_exact(text) == info


def test_empty_text() -> None:
    info = count_segments("")
    assert info == SegmentInfo(GSM7, (0,), ("",))
    assert (info.characters, info.units, info.segments, info.units_left, info.non_gsm) == (0, 0, 1, 160, ())


# --- boundary tables ------------------------------------------------------------


@pytest.mark.parametrize("ext", GSM_EXTENSION)
@pytest.mark.parametrize(
    ("position", "expected"),
    [  # 1-based position of the extension character in 200 characters (201 septets)
        (152, (153, 48)),  # ESC lands on septet 152, its code on 153: fits
        (153, (152, 49)),  # the pair would straddle the cut: it moves whole
        (154, (153, 48)),
        (159, (153, 48)),
        (160, (153, 48)),
        (161, (153, 48)),
    ],
)
def test_extension_character_near_concatenated_cut(ext: str, position: int, expected: tuple[int, ...]) -> None:
    text = "a" * (position - 1) + ext + "a" * (200 - position)
    info = count_segments(text)
    assert (info.segments, info.segment_units) == (len(expected), expected)
    assert any(ext in t for t in info.segment_texts)


@pytest.mark.parametrize("ext", GSM_EXTENSION)
@pytest.mark.parametrize(
    ("position", "expected"),
    [  # the extension character is the last one, at this 1-based position
        (152, (153,)),
        (153, (154,)),
        (154, (155,)),
        (159, (160,)),  # 158 + 2 = 160 septets: still one segment
        (160, (153, 8)),  # 161 septets: concatenated
        (161, (153, 9)),
    ],
)
def test_extension_character_near_single_limit(ext: str, position: int, expected: tuple[int, ...]) -> None:
    info = count_segments("a" * (position - 1) + ext)
    assert (info.encoding, info.segments, info.segment_units) == (GSM7, len(expected), expected)


@pytest.mark.parametrize(
    ("prefix", "wide", "expected"),
    [  # ZH * prefix + wide + ZH * 20 (1-based position of the wide char is prefix + 1)
        (65, GRIN, (67, 20)),
        (66, GRIN, (66, 22)),  # the surrogate pair would straddle unit 67/68
        (67, GRIN, (67, 22)),
        (63, FLAG, (67, 20)),
        (64, FLAG, (64, 24)),  # a flag is one cluster: it never splits
        (65, FLAG, (65, 24)),
        (66, FLAG, (66, 24)),
        (67, FLAG, (67, 24)),
    ],
)
def test_emoji_and_flag_near_concatenated_cut(prefix: int, wide: str, expected: tuple[int, ...]) -> None:
    info = count_segments(ZH * prefix + wide + ZH * 20)
    assert (info.encoding, info.segment_units) == (UCS2, expected)
    assert any(wide in t for t in info.segment_texts)


@pytest.mark.parametrize(
    ("prefix", "wide", "expected"),
    [  # ZH * prefix + wide, the wide character ending the text
        (68, GRIN, (70,)),
        (69, GRIN, (67, 4)),
        (70, GRIN, (67, 5)),
        (66, FLAG, (70,)),
        (67, FLAG, (67, 4)),
        (68, FLAG, (67, 5)),
        (69, FLAG, (67, 6)),
    ],
)
def test_emoji_and_flag_near_single_limit(prefix: int, wide: str, expected: tuple[int, ...]) -> None:
    info = count_segments(ZH * prefix + wide)
    assert info.segment_units == expected
    assert info.segment_texts[-1].endswith(wide)


def test_combining_mark_is_ucs2_and_stays_with_its_base() -> None:
    assert not is_gsm7("e\u0301")
    info = count_segments(ZH * 66 + "e\u0301" + ZH * 10)
    assert info.segment_units == (66, 12)
    assert info.segment_texts[1].startswith("e\u0301")
    assert info.non_gsm == (ZH, "\u0301")


@pytest.mark.parametrize("prefix", range(50, 70))
def test_zwj_family_is_never_split(prefix: int) -> None:
    info = count_segments(ZH * prefix + FAMILY + ZH * 30)
    assert sum(FAMILY in t for t in info.segment_texts) == 1
    assert all(u <= 67 for u in info.segment_units)


def test_cr_lf_is_two_septets_and_one_cluster() -> None:
    assert count_segments("\r\n").units == 2
    info = count_segments("a" * 152 + "\r\n" + "a" * 10)  # CR would be septet 153
    assert info.segment_units == (152, 12)
    assert info.segment_texts[1].startswith("\r\n")


# Clusters of BMP code points only, so that the text around them stays on the
# arithmetic path (one unit per code point) until a joiner sits at a cut.
BMP_CLUSTERS = [
    "e\u0301",  # combining mark (Extend)
    "e\u0301\u0302",  # two of them
    "\u2764\ufe0f",  # ❤️: variation selector (Extend)
    "\u0905\u0902",  # अं: vowel sign (Extend)
    "\u0915\u093e",  # का: spacing mark
    "\u0915\u094d\u0937",  # क्ष: conjunct (GB9c)
    "\u0600" + "1",  # prepend
    "\u1100\u1161\u11a8",  # Hangul jamo L V T
    "\u1100\uac00",  # jamo L + syllable LV
    "a\u200d",  # a lone ZWJ after a letter
    "\r\n",
]


@pytest.mark.parametrize("cluster", BMP_CLUSTERS)
@pytest.mark.parametrize("cut", [67, 134])
@pytest.mark.parametrize("shift", [-2, -1, 0, 1, 2])
def test_bmp_cluster_at_an_arithmetic_cut(cluster: str, cut: int, shift: int) -> None:
    # The cluster's first code point lands at 0-based ``cut + shift - 1``:
    # from wholly before the cut, through straddling it, to wholly after.
    prefix = cut + shift - 1
    text = ZH * prefix + cluster + ZH * (230 - prefix)
    info = count_segments(text)
    assert info == _count_exact(text)
    assert info.encoding is UCS2 and info.units == len(text)
    assert sum(cluster in t for t in info.segment_texts) == 1  # never split


@pytest.mark.parametrize("cluster", BMP_CLUSTERS)
def test_bmp_cluster_where_no_cut_falls(cluster: str) -> None:
    text = ZH * 30 + cluster + ZH * 100
    info = count_segments(text)
    assert info == _count_exact(text)
    assert info.segment_units == (67, len(text) - 67)


@pytest.mark.parametrize(
    "text",
    [
        "e" + "\u0301" * 150,  # one BMP cluster bigger than two segments
        ZH * 60 + "e" + "\u0301" * 80 + ZH * 60,
        ("\u1100" * 70 + "\u1161") * 2,  # Hangul jamo: one long cluster each
        ZH * 66 + "\r" + ZH * 10,  # a CR alone at the cut is no cluster
        ZH * 66 + "\r\n\r\n" + ZH * 70,
        # CR LF moves the first cut back one, so the second falls at 133, inside
        # a prepend cluster that a check at the unmoved 134 would not see.
        ZH * 66 + "\r\n" + ZH * 64 + "\u0600" + "1" + ZH * 20,
    ],
)
def test_bmp_edge_texts_agree_with_the_oracle(text: str) -> None:
    assert count_segments(text) == _count_exact(text)


def test_counted_info_is_a_real_frozen_segment_info() -> None:
    for text in ["", "a" * 200, ZH * 100, GRIN * 40, "€" * 100]:
        info = count_segments(text)
        assert type(info) is SegmentInfo
        assert info == SegmentInfo(info.encoding, info.segment_units, info.segment_texts)
        assert hash(info) == hash(SegmentInfo(info.encoding, info.segment_units, info.segment_texts))
        with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
            info.encoding = UCS2  # type: ignore[misc]


def test_oversized_cluster_is_cut_inside_and_counting_ends() -> None:
    # 1 + 100 combining marks cannot fit any segment: cut at code points,
    # filling the current segment first, and counting ends.
    text = ZH * 10 + "e" + "\u0301" * 100 + ZH * 5
    info = count_segments(text)
    assert info.segment_units == (67, 49)
    assert "".join(info.segment_texts) == text
    assert _count_exact(text) == info


@pytest.mark.parametrize(
    "text",
    [
        "\ud83d" + ZH * 80,  # a lone high surrogate
        ZH * 66 + "\ud83d\ude00" + ZH * 5,  # two lone code points that UTF-16 would pair up
        "a" * 100 + "\udcff",  # what surrogateescape makes of a stray byte
    ],
)
def test_lone_surrogates_are_one_unit_each(text: str) -> None:
    info = count_segments(text)
    assert info.encoding is UCS2 and info.units == len(text)
    assert "".join(info.segment_texts) == text
    assert info == _count_exact(text)


# --- the alphabet ------------------------------------------------------------------


@pytest.mark.parametrize("char", GSM_BASIC)
def test_every_basic_character_is_one_septet(char: str) -> None:
    info = count_segments(char)
    assert (info.encoding, info.units, info.non_gsm) == (GSM7, 1, ())


@pytest.mark.parametrize("char", GSM_EXTENSION)
def test_every_extension_character_is_two_septets(char: str) -> None:
    info = count_segments(char)
    assert (info.encoding, info.units) == (GSM7, 2)
    assert count_segments(char + "ж").units == 2  # one unit in UCS-2


def test_basic_table_has_127_characters() -> None:
    assert len(set(GSM_BASIC)) == len(GSM_BASIC) == 127
    assert "\x1b" not in GSM_BASIC


@pytest.mark.parametrize("char", "ΔΦΓΛΩΠΨΣΘΞ")
def test_greek_capitals_of_the_table_are_gsm(char: str) -> None:
    assert 0x0393 <= ord(char) <= 0x03A9
    assert is_gsm7(char)


@pytest.mark.parametrize(
    "char",
    # Greek capitals that look like Latin ones, lowercase Greek, and math look-alikes.
    ["\u0391", "\u0392", "\u0395", "\u0397", "\u039f", "\u03a1", "\u03a4", "\u03a7", "δ", "ω", "\u2206", "\u2126", "\u2211"],
)
def test_greek_and_math_look_alikes_are_not_gsm(char: str) -> None:
    assert not is_gsm7(char)
    assert count_segments(char).non_gsm == (char,)


@pytest.mark.parametrize("char", "ABEHIKMNOPTXYZ")
def test_latin_capitals_are_gsm(char: str) -> None:
    assert is_gsm7(char)


@pytest.mark.parametrize(
    ("char", "gsm"),
    [
        ("Ç", True),
        ("ç", False),
        ("`", False),
        ("\t", False),
        ("\u00a0", False),
        ("\x1b", False),  # ESC typed as a character
        *((c, False) for c in "áíóúãâê"),
        *((c, True) for c in "éèùìòàäöñü"),
    ],
)
def test_frequent_mistakes(char: str, gsm: bool) -> None:
    assert is_gsm7(char) is gsm
    assert count_segments("ok " + char).encoding == (GSM7 if gsm else UCS2)


def test_non_gsm_is_distinct_in_order_of_first_appearance() -> None:
    assert count_segments("a’b“c’ç“").non_gsm == ("’", "“", "ç")


# --- properties -----------------------------------------------------------------

# Pieces chosen to crowd the cuts with everything that must not be split.
PIECES = [
    "a", "b", " ", "\r\n", "\n", "\r", "€", "^", "{", "Ç", "Δ",
    "ж", "中", "ç", "\u00a0", GRIN, FLAG, "\U0001f1f8", FAMILY, "\u200d",
    "e\u0301", "\u0301", "\u0301" * 40, "👍\U0001f3fd", "❤\ufe0f", "각", "\u1100\u1161\u11a8",
    "\u0915\u094d\u0937", "\u0600a", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
]
gsm_texts = st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXTENSION), max_size=600)
gsm_pieces = st.lists(st.sampled_from(["a", "\r\n", "\r", "\n", "€", "^"]), min_size=100, max_size=400).map("".join)
mixed_texts = st.lists(st.sampled_from(PIECES), min_size=20, max_size=250).map("".join)
any_texts = st.text(max_size=300)
texts = st.one_of(gsm_texts, gsm_pieces, mixed_texts, any_texts)


def _limit(info: SegmentInfo) -> int:
    single, multi = (160, 153) if info.encoding is GSM7 else (70, 67)
    return single if info.segments == 1 else multi


@settings(max_examples=400)
@given(texts)
def test_segments_rebuild_the_text_within_limits(text: str) -> None:
    info = count_segments(text)
    assert "".join(info.segment_texts) == text
    assert info.characters == len(text)
    assert sum(info.segment_units) == info.units
    assert all(u <= _limit(info) for u in info.segment_units)
    assert info.units_left == _limit(info) - info.segment_units[-1]
    assert info.per_segment_limit == _limit(info)


@settings(max_examples=400)
@given(texts)
def test_fast_and_exact_paths_agree(text: str) -> None:
    assert count_segments(text) == _count_exact(text)


def _independent_units(text: str, encoding: Encoding) -> int:
    if encoding is GSM7:
        return sum(2 if c in GSM_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@settings(max_examples=400)
@given(texts)
def test_cuts_respect_pairs_and_clusters(text: str) -> None:
    info = count_segments(text)
    # Escape and surrogate pairs: each segment's units match its own text.
    assert info.segment_units == tuple(_independent_units(t, info.encoding) for t in info.segment_texts)
    for t in info.segment_texts[1:]:
        assert not 0xDC00 <= ord(t[0]) <= 0xDFFF
    # Clusters: every cut is a cluster boundary of the whole text, unless the
    # cluster is one that no segment could hold.
    spans, pos = [], 0
    for cluster in regex.findall(r"\X", text):
        spans.append((pos, pos + len(cluster), _independent_units(cluster, info.encoding)))
        pos += len(cluster)
    cut = 0
    for t in info.segment_texts[:-1]:
        cut += len(t)
        inside = [s for s in spans if s[0] < cut < s[1]]
        assert not inside or inside[0][2] > _limit(info)


# --- smart encoding ----------------------------------------------------------------


def test_smart_encoding_turns_curly_quotes_into_gsm() -> None:
    text = "We’re “open” today – don’t miss it… " * 3
    result = smart_encode(text)
    assert result.before.encoding is UCS2 and result.before.segments == 2
    assert result.after.encoding is GSM7 and result.after.segments == 1
    assert result.segments_saved == 1
    assert result.text == "We're \"open\" today - don't miss it... " * 3
    assert result.replacements == (("’", "'", 6), ("“", '"', 3), ("”", '"', 3), ("–", "-", 3), ("…", "...", 3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\u00a0b\u2009c\u3000d", "a b c d"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("«quote» ‹single› • item −1 ‑x", "\"quote\" 'single' - item -1 -x"),
        ("tab\there", "tab here"),
    ],
)
def test_smart_encoding_replacements(text: str, expected: str) -> None:
    assert smart_encode(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Hello there",  # already GSM-7
        "Привет, “друг”",  # stays UCS-2: left alone
        "Family " + FAMILY,  # removing the ZWJs would break the emoji
        "…" * 70,  # GSM-7, but 210 septets cost more than 70 units
    ],
)
def test_smart_encoding_leaves_text_alone_when_it_cannot_help(text: str) -> None:
    result = smart_encode(text)
    assert (result.text, result.replacements, result.segments_saved) == (text, (), 0)
    assert result.after == result.before


def test_render_smart() -> None:
    done = render_smart(smart_encode("It’s\u2028fine\u200b"), color=False)
    assert "UCS-2 → GSM-7, 1 → 1 segments (saved 0)" in done
    assert "U+2028   [␤] → line feed  ×1  LINE SEPARATOR" in done
    assert "U+200B   [¦] → nothing  ×1  ZERO WIDTH SPACE" in done
    assert render_smart(smart_encode("plain"), color=False) == "Smart encoding: no change (already GSM-7)\n"
    assert "no look-alikes to replace" in render_smart(smart_encode("привет"), color=False)
    assert "without costing more segments" in render_smart(smart_encode("привет “друг”"), color=False)


# --- reports ---------------------------------------------------------------------------


def test_render_breakdown_without_color() -> None:
    info = count_segments("Hi\nçava\u00a0?" + ZH * 70)
    report = render_breakdown(info, color=False)
    assert "Encoding    UCS-2" in report
    assert "Segments    2" in report
    assert "Units left  " in report
    assert "U+00E7   [ç]  LATIN SMALL LETTER C WITH CEDILLA" in report
    assert "U+00A0   [·]  NO-BREAK SPACE" in report
    assert "Hi␤[ç]ava[·]?" in report
    assert "Segment 1/2: 67/67 UTF-16 code units" in report
    assert "Segment 2/2:" in report
    assert "\x1b[" not in report


def test_render_breakdown_with_color_highlights() -> None:
    report = render_breakdown(count_segments("ça"), color=True)
    assert "\x1b[7;31mç\x1b[0ma" in report


def test_info_to_dict() -> None:
    data = info_to_dict(count_segments("ç" + "a" * 80))
    assert list(data) == [
        "encoding", "characters", "units", "segments", "segment_units", "units_left", "non_gsm", "segment_texts",
    ]
    assert data["encoding"] == "UCS-2" and data["segment_units"] == [67, 14]
    assert data["non_gsm"] == [{"char": "ç", "codepoint": "U+00E7", "name": "LATIN SMALL LETTER C WITH CEDILLA"}]


def test_segment_info_checks_itself() -> None:
    with pytest.raises(ValueError):
        SegmentInfo(GSM7, (1, 1), ("a",))
    with pytest.raises(ValueError):
        SegmentInfo(GSM7, (), ())


# --- the CLI ------------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    return main(["count", *argv])


def test_cli_contract_register_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="bulksend")
    count_cli.register(parser.add_subparsers())
    args = parser.parse_args(["count", "--json", "hi"])
    assert args.func is count_cli.run
    assert args.func(args) == 0
    assert orjson.loads(capsys.readouterr().out)["units"] == 2


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_cli_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--no-color", "Hello world"]) == 0
    out = capsys.readouterr().out
    assert "Encoding    GSM-7" in out and "Segment 1/1: 11/160 septets" in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--json", "a" * 161]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert set(data) == {
        "encoding", "characters", "units", "segments", "segment_units", "units_left", "non_gsm", "segment_texts",
    }
    assert (data["segments"], data["segment_units"], data["units_left"]) == (2, [153, 8], 145)


def test_cli_smart_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--json", "--smart", "It’s “fine” " * 7]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["encoding"] == "GSM-7" and data["segments"] == 1
    assert data["smart"]["segments_saved"] == 1
    assert data["smart"]["before"]["encoding"] == "UCS-2"
    assert {r["char"] for r in data["smart"]["replacements"]} == {"’", "“", "”"}


def test_cli_smart_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--smart", "--no-color", "It’s fine"]) == 0
    out = capsys.readouterr().out
    assert "Smart encoding: UCS-2 → GSM-7" in out and "U+2019" in out


def test_cli_file_is_counted_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "msg.txt"
    path.write_bytes(b"hello\n")
    assert _run(["--json", "--file", str(path)]) == 0
    assert orjson.loads(capsys.readouterr().out)["characters"] == 6


def test_cli_stdin_drops_one_trailing_newline(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, "привет\n\n".encode())
    assert _run(["--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["segment_texts"] == ["привет\n"]
    _stdin(monkeypatch, b"hi\n")
    assert _run(["--json", "--file", "-"]) == 0
    assert orjson.loads(capsys.readouterr().out)["characters"] == 2


def test_cli_invalid_utf8_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc\xffdef")
    assert _run(["--file", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"bulksend count: error: {path}: invalid UTF-8 at byte offset 3\n"


def test_cli_invalid_utf8_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, b"ok\xc3")
    assert _run([]) == 2
    assert capsys.readouterr().err == "bulksend count: error: <stdin>: invalid UTF-8 at byte offset 2\n"


@pytest.mark.parametrize("name", ["missing.txt", "."])
def test_cli_unreadable_file(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    assert _run(["--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bulksend count: error: {path}: cannot read: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_argument_that_is_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([b"ab\xffc".decode("utf-8", "surrogateescape")]) == 2
    assert capsys.readouterr().err == "bulksend count: error: TEXT argument: invalid UTF-8 at byte offset 2\n"


def test_cli_text_and_file_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(["hi", "--file", "x"])
    assert exc.value.code == 2
