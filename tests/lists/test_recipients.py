"""Streaming recipient lists in every supported format."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bulksend.lists import sources as recipients
from bulksend.errors import InputError, RecipientError
from bulksend.models import Recipient
from bulksend.recipients import (
    RecipientSource,
    count_lines,
    load_numbers,
    peek_columns,
    read_blocks,
    read_recipients,
)


def read(path: Path, **kw: str) -> list[Recipient | RecipientError]:
    return list(read_recipients(RecipientSource(str(path), kw.get("format"), kw.get("column"))))


def test_text_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("# my list\n+46 70 100 00 01\n\n0046701000002\nbad\n", encoding="utf-8")
    items = read(f)
    assert [i.msisdn for i in items if isinstance(i, Recipient)] == ["46701000001", "46701000002"]
    errors = [i for i in items if isinstance(i, RecipientError)]
    assert [(e.line, e.value) for e in errors] == [(5, "bad")]
    assert str(errors[0]).startswith(f"{f}:5: not a phone number")


@pytest.mark.parametrize("column", ["msisdn", "phone", "number", "to", "Phone"])
def test_csv_finds_number_column_by_header(tmp_path: Path, column: str) -> None:
    f = tmp_path / "n.csv"
    f.write_text(f"name,{column},code\nAna,+46701000001,11\nBo,46701000002,22\n", encoding="utf-8")
    items = read(f)
    assert items[0] == Recipient("46701000001", {"name": "Ana", "code": "11"}, 2)
    assert items[1] == Recipient("46701000002", {"name": "Bo", "code": "22"}, 3)


def test_csv_column_option_and_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("name,mobile\nAna,46701000001\n", encoding="utf-8")
    assert read(f, column="mobile")[0].msisdn == "46701000001"  # type: ignore[union-attr]
    with pytest.raises(InputError, match="no number column"):
        read(f)
    with pytest.raises(InputError, match="no column named 'cell'"):
        read(f, column="cell")


def test_csv_headerless_single_column(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("46701000001\n46701000002\n", encoding="utf-8")
    assert [i.msisdn for i in read(f)] == ["46701000001", "46701000002"]  # type: ignore[union-attr]


def test_csv_short_row_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("name,phone\nAna\nBo,46701000002\n", encoding="utf-8")
    items = read(f)
    assert isinstance(items[0], RecipientError) and items[0].line == 2
    assert isinstance(items[1], Recipient)


def test_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "n.jsonl"
    f.write_text('{"msisdn": "+46701000001", "name": "Ana", "n": 3}\n"46701000002"\n{oops\n[1]\n{"x": 1}\n',
                 encoding="utf-8")
    items = read(f)
    assert items[0] == Recipient("46701000001", {"name": "Ana", "n": "3"}, 1)
    assert items[1] == Recipient("46701000002", None, 2)
    assert [(e.line, e.reason) for e in items[2:]] == [  # type: ignore[union-attr]
        (3, "not valid JSON"), (4, "expected an object or a number"), (5, "no msisdn/phone/number/to field")]


def test_gzip_of_each_format(tmp_path: Path) -> None:
    for name, text in (("n.txt.gz", "46701000001\n"), ("n.csv.gz", "phone\n46701000001\n"),
                       ("n.jsonl.gz", '{"to": "46701000001"}\n')):
        f = tmp_path / name
        f.write_bytes(gzip.compress(text.encode()))
        assert [i.msisdn for i in read(f)] == ["46701000001"]  # type: ignore[union-attr]


def test_bad_utf8_names_file_and_byte(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_bytes(b"46701000001\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"n.txt: not valid UTF-8 .* at byte"):
        read(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="recipient list not found"):
        read(tmp_path / "missing.csv")


def test_wanted_columns_only(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("phone,name,secret\n46701000001,Ana,x\n", encoding="utf-8")
    src = RecipientSource(str(f))
    assert next(read_recipients(src, wanted=("name",))).params == {"name": "Ana"}  # type: ignore[union-attr]
    assert next(read_recipients(src, wanted=())).params is None  # type: ignore[union-attr]


def test_peek_count_and_load(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("phone,name\n46701000001,Ana\n46701000002,Bo\n", encoding="utf-8")
    assert peek_columns(RecipientSource(str(f))) == ("phone", "name")
    assert count_lines(str(f)) == 2  # the header is not a recipient
    assert load_numbers(RecipientSource(str(f))) == {"46701000001", "46701000002"}


def test_blocks_keep_line_numbers_across_clean_and_dirty_blocks(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    rows = [f"+4670{i:07d},N{i}" for i in range(1500)]
    rows[700] = "070 123,bad"      # a dirty block goes one by one
    rows[1200] = '"+4670\n1",odd'  # a quoted newline inside a value
    f.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    items = list(read_recipients(RecipientSource(str(f)), wanted=("name",)))
    good = [i for i in items if isinstance(i, Recipient)]
    bad = [i for i in items if isinstance(i, RecipientError)]
    assert len(good) == 1498 and [e.value for e in bad] == ["070 123", "+4670\n1"]
    assert good[0] == Recipient("46700000000", {"name": "N0"}, 2)
    assert good[-1] == Recipient("46700001499", {"name": "N1499"}, 1502)  # one extra line from the quoted newline
    assert bad[0].line == 702


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("number_last", [False, True])
def test_plain_csv_fast_path_and_the_switch_to_the_parser_keep_every_line(
        tmp_path: Path, newline: str, number_last: bool) -> None:
    f = tmp_path / "n.csv"
    rows = [(f"N{i}", f"+4670{i:07d}") for i in range(6000)]  # more than one read of plain lines

    def row(name: str, number: str) -> str:
        return f"{name},{number}" if number_last else f"{number},{name}"

    lines = [row("name", "phone")] + [row(n, m) for n, m in rows]
    lines[3001] = row("Short", "")[:-1] if number_last else "+46700003000"  # short row (or number only)
    lines[3500] = ""                                              # a blank line: skipped
    lines[4200] = row('"Quoted, name"', "+46700004199")           # from here on the CSV parser reads
    lines[5000] = row("bad", "070 123")
    f.write_text(newline.join(lines) + newline, encoding="utf-8")
    items = list(read_recipients(RecipientSource(str(f))))
    good = {i.msisdn: i.line for i in items if isinstance(i, Recipient)}
    bad = [(i.line, i.value) for i in items if isinstance(i, RecipientError)]
    expected_bad = [(5001, "070 123")]
    if number_last:
        expected_bad.insert(0, (3002, "Short"))
    assert bad == expected_bad
    assert good["46700000000"] == 2 and good["46700004199"] == 4201 and good["46700005999"] == 6001
    assert len(good) == 6000 - len(expected_bad) - 1 - (0 if number_last else 0)
    assert "46700003499" not in good  # its line was blanked


@pytest.mark.parametrize("read", [7, 64, 1 << 18])
@pytest.mark.parametrize("size", [1, 3, 512])
@pytest.mark.parametrize("kind", ["text", "csv", "csv-number-only"])
def test_clean_blocks_read_as_the_careful_path_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: int, size: int, kind: str) -> None:
    """Blocks cut from reads of any size, clean (numpy) or not (line by line),
    give the same recipients, errors and line numbers as the careful path."""
    numbers = [f"+4670{i:07d}" if i % 3 else f"4670{i:07d}" for i in range(40)]
    numbers[17] = "070 123"  # a bad line, in its own block or among clean ones
    numbers[25] = ""         # a blank line
    if kind == "text":
        body, name = "\n".join(numbers), "n.txt"        # no newline at the end
    elif kind == "csv":
        body, name = "phone,name\n" + "\n".join(f"{n},N{i}" for i, n in enumerate(numbers)) + "\n", "n.csv"
    else:
        body, name = "phone\n" + "\n".join(numbers) + "\n", "n.csv"
    f = tmp_path / name
    f.write_text(body, encoding="utf-8")

    def blocks() -> list[tuple[list[Recipient], list[tuple[int, str, str]]]]:
        return [(list(rs), [(e.line, e.value, e.reason) for e in es])
                for rs, es in read_blocks(RecipientSource(str(f)), wanted=(), size=size)]

    monkeypatch.setattr(recipients, "_READ", read)
    fast = blocks()
    monkeypatch.setattr(recipients, "clean_block", lambda data, first_field=False, sep=44: None)
    careful = blocks()
    assert fast == careful
    good = [r for rs, _ in fast for r in rs]
    assert len(good) == 38 and good[0] == Recipient("46700000000", None, 2 if kind != "text" else 1)
    expected = {"text": [(18, "070 123")], "csv": [(19, "070 123"), (27, "")],  # a row with no number
                "csv-number-only": [(19, "070 123")]}[kind]                    # blank lines are skipped
    assert [e[:2] for _, es in fast for e in es] == expected


def test_numbers_read_from_a_clean_block_are_one_string_until_asked() -> None:
    from bulksend.core.numbers import clean_block
    from bulksend.models import Numbers, keys_of

    text, keys, starts = clean_block(b"46700000001\n+46700000002\n46700000003\n46700000004\n") or ("", None, None)
    block = Numbers.joined(text, starts, range(2, 6), keys)
    assert len(block) == 4 and block.clean_text == text and block[1] == Recipient("46700000002", None, 3)
    middle = block[1:3]
    assert middle.clean_text == "46700000002\n46700000003" and list(middle.lines or ()) == [3, 4]
    assert middle.text(",") == "46700000002,46700000003" and keys_of(middle).tolist() == [46700000002, 46700000003]
    assert block[-1].msisdn == "46700000004" and block[3:].numbers == ["46700000004"]
    assert block == Numbers(["46700000001", "46700000002", "46700000003", "46700000004"], range(2, 6))
    assert Numbers(["46700000001"]).clean_text is None  # made from strings: not checked, not spliced


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("kind", ["text", "csv"])
@pytest.mark.parametrize("chars", [5, 1 << 18])
def test_line_ends_of_any_kind_and_odd_characters_keep_every_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, kind: str, chars: int) -> None:
    """A lone "\\r" (old Mac exports) ends a line, "\\r\\n" cut by a read is one
    line end, and a form feed or U+2028 inside a value does not start a line."""
    monkeypatch.setattr(recipients, "_READ", chars)
    numbers = [f"+4670{i:07d}" for i in range(30)]
    if kind == "text":
        rows, name, first = numbers, "n.txt", 1
    else:
        rows = ["phone,name"] + [f"{n},N\x0c{i}\u2028x" for i, n in enumerate(numbers)]
        name, first = "n.csv", 2
    rows[first + 9] = "070 123" + ("" if kind == "text" else ",bad")
    (tmp_path / name).write_text(newline.join(rows) + newline, encoding="utf-8", newline="")
    items = read(tmp_path / name)
    good = [(i.msisdn, i.line) for i in items if isinstance(i, Recipient)]
    bad = [(i.line, i.value) for i in items if isinstance(i, RecipientError)]
    assert bad == [(first + 10, "070 123")]
    assert len(good) == 29 and good[0] == ("46700000000", first) and good[-1] == ("46700000029", first + 29)
