"""Lists as spreadsheets write them, and the pre-scan (issue 16, items 3, 8, 11)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bulksend.errors import InputError
from bulksend.lists.scan import scan_inputs, scan_list
from bulksend.lists.sources import (
    RecipientSource,
    count_lines,
    peek_columns,
    read_recipients,
    sniff_delimiter,
)
from bulksend.models import Recipient


def items(path: Path, wanted: tuple[str, ...] | None = None, **kw: str) -> list[tuple[int, str, object]]:
    out: list[tuple[int, str, object]] = []
    for item in read_recipients(RecipientSource(str(path), **kw), wanted):  # type: ignore[arg-type]
        if isinstance(item, Recipient):
            out.append((item.line, item.msisdn, item.params))
        else:
            out.append((item.line, "reject", item.reason))
    return out


def test_a_bom_is_not_part_of_the_header_or_the_first_number(tmp_path: Path) -> None:
    csv_list = tmp_path / "n.csv"
    csv_list.write_bytes("\ufeffPhone,Name\n46701234567,Ana\n".encode())
    assert items(csv_list) == [(2, "46701234567", {"Name": "Ana"})]
    assert peek_columns(RecipientSource(str(csv_list))) == ("Phone", "Name")
    text = tmp_path / "n.txt.gz"
    text.write_bytes(gzip.compress("\ufeff46701234567\n46701234568\n".encode()))
    assert items(text) == [(1, "46701234567", None), (2, "46701234568", None)]


@pytest.mark.parametrize("sep", [";", "\t", ","])
@pytest.mark.parametrize("wanted", [None, ()])
def test_delimiters_are_sniffed_from_the_header(tmp_path: Path, sep: str, wanted: tuple[str, ...] | None) -> None:
    f = tmp_path / "n.csv"
    f.write_text(sep.join(["Name", "Phone"]) + "\n" + f'"Ana{sep} Jr"{sep}46701234567\n'
                 + f"Bo{sep}+46701234568\nCy{sep}46701234569\n", encoding="utf-8")
    got = items(f, wanted)
    assert [(line, n) for line, n, _ in got] == [(2, "46701234567"), (3, "46701234568"), (4, "46701234569")]
    if wanted is None:
        assert got[0][2] == {"Name": f"Ana{sep} Jr"}


def test_delimiter_given_wins_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("phone;a,b,c\n46701234567;x,y,z\n", encoding="utf-8")
    assert sniff_delimiter("phone;a,b,c\n") == ","
    assert items(f, None, delimiter=";") == [(2, "46701234567", {"a,b,c": "x,y,z"})]
    with pytest.raises(InputError, match="read with tab as the delimiter"):
        items(f, None, delimiter="tab")
    with pytest.raises(InputError, match="one character"):
        items(f, None, delimiter=";;")


def test_over_long_field_rejects_its_line_and_reading_goes_on(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("phone,name\n46701234567,Ana\n46701234568," + "x" * 200_000 + "\n46701234569,Cy\n",
                 encoding="utf-8")
    assert items(f) == [(2, "46701234567", {"name": "Ana"}), (3, "reject", "a field over 128 KiB"),
                        (4, "46701234569", {"name": "Cy"})]
    assert [n for _, n, _ in items(f, ())] == ["46701234567", "46701234568", "46701234569"]  # name unread


def test_no_number_column_lists_the_columns_found(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("Name;Tel;Town\nAna;46701234567;Oslo\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        items(f)
    assert "columns found: 'Name', 'Tel', 'Town' (read with ';' as the delimiter)" in str(info.value)
    assert str(info.value).startswith(f"{f}:1: no number column")
    assert items(f, None, column="tel") == [(2, "46701234567", {"Name": "Ana", "Town": "Oslo"})]


def test_default_region_reads_national_numbers(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("030 1234567\n+49 (0)30 1234568\n", encoding="utf-8")
    assert items(f, None, region="DE") == [(1, "49301234567", None), (2, "49301234568", None)]
    assert items(f)[0][1:] == ("reject", "national format (leading 0); use the country code")


def test_scan_counts_lines_once_and_the_total_excludes_the_header(tmp_path: Path) -> None:
    f = tmp_path / "n.csv"
    f.write_text("phone,name\n46701234567,Ana\n46701234568,Bo", encoding="utf-8")  # no final newline
    found = scan_list(RecipientSource(str(f)))
    assert (found.lines, found.data_lines) == (3, 2)
    assert count_lines(str(f)) == 2
    headerless = tmp_path / "h.csv"
    headerless.write_text("46701234567\n46701234568\n", encoding="utf-8")
    assert scan_list(RecipientSource(str(headerless))).data_lines == 2


@pytest.mark.parametrize(("data", "line", "reason"), [
    (b"46701234567\n46701234568\n4670\xff1234569\n", 3, "not valid UTF-8"),
    (b"46701234567\n" * 3 + b"4670\xe2\x82", 4, "not valid UTF-8 at the end"),
    (b"46701234567\n\n4670\x00\n", 3, "a NUL byte"),
])
def test_scan_names_file_line_and_reason(tmp_path: Path, data: bytes, line: int, reason: str) -> None:
    f = tmp_path / "n.txt"
    f.write_bytes(data)
    with pytest.raises(InputError) as info:
        scan_list(RecipientSource(str(f)))
    assert str(info.value).startswith(f"{f}:{line}: {reason}")
    assert "nothing was sent" in str(info.value)


def test_scan_finds_bad_bytes_across_pieces_and_truncated_gzip(tmp_path: Path) -> None:
    body = b"".join(b"%d\n" % (46_700_000_000 + i) for i in range(200_000))  # 2.4 MB: several pieces
    f = tmp_path / "n.txt"
    cut_at = (1 << 20) - 1  # a two-byte character cut by the piece boundary is fine...
    f.write_bytes(body[:cut_at] + "é".encode() + body[cut_at:])
    assert scan_list(RecipientSource(str(f))).lines == 200_000
    g = tmp_path / "n.txt.gz"
    packed = gzip.compress(body)
    g.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match=r"n\.txt\.gz:\d+: the gzip file ends early"):
        scan_list(RecipientSource(str(g)))
    g.write_bytes(packed[:10] + b"\x00" * 40 + packed[50:])
    with pytest.raises(InputError, match="n.txt.gz:"):
        scan_list(RecipientSource(str(g)))


def test_scan_inputs_checks_exclude_lists_and_an_empty_list(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("46701234567\n", encoding="utf-8")
    with pytest.raises(InputError, match="o.txt: exclude list not found"):
        scan_inputs(RecipientSource(str(f)), [RecipientSource(str(tmp_path / "o.txt"))])
    e = tmp_path / "e.csv"
    e.write_text("phone\n", encoding="utf-8")
    with pytest.raises(InputError, match="no sendable recipients"):
        scan_inputs(RecipientSource(str(e)))


def test_a_pipe_is_spooled_privately(tmp_path: Path) -> None:
    import os
    import threading

    from bulksend.lists import spool

    fifo = tmp_path / "p.txt"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(b"46701234567\n46701234568\n")

    t = threading.Thread(target=feed)
    t.start()
    try:
        assert scan_list(RecipientSource(str(fifo))).lines == 2
        t.join(5)
        copy = spool.spooled(str(fifo))
        assert copy is not None and os.stat(copy).st_mode & 0o777 == 0o600
        assert [n for _, n, _ in items(fifo)] == ["46701234567", "46701234568"]  # read again, from the copy
    finally:
        spool.forget()
