"""Reading recipient lists: text, CSV, JSONL, any of them gzipped, or stdin.

Nothing here holds a list in memory: every reader yields one item per line,
either a normalized ``Recipient`` or the ``RecipientError`` that says why the
line is unusable (so the caller reports it and goes on).

Formats are told by the file name (``.csv``, ``.jsonl``/``.ndjson``,
anything else is one number a line), after taking off a ``.gz``. For stdin
(``-``) the format is given, or sniffed from the first line.

Lists as spreadsheets write them: a UTF-8 byte order mark is dropped; a
CSV's delimiter (``,``, ``;`` or a tab) is the one its header line holds
most of, unless ``delimiter`` names it; fields may be quoted; a field over
the CSV reader's limit (128 KiB) rejects its line.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import IO

import orjson

from bulksend.core.numbers import clean_block, normalize_block, normalize_msisdn
from bulksend.errors import InputError, RecipientError
from bulksend.models import Numbers, Recipient

NUMBER_COLUMNS = ("msisdn", "phone", "number", "to")
FORMATS = ("text", "csv", "jsonl")
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t", "\\t": "\t"}
#: "utf-8-sig": a byte order mark (Excel's "CSV UTF-8") is not part of the first line
ENCODING = "utf-8-sig"

Item = Recipient | RecipientError


@dataclass(frozen=True, slots=True)
class RecipientSource:
    """Where recipients come from and how to read them."""

    path: str
    format: str | None = None
    column: str | None = None
    #: a CSV's field separator; None: sniffed from the header line
    delimiter: str | None = None
    #: the country (ISO 3166 code) national numbers are from; None: they are rejected
    region: str | None = None

    @property
    def display(self) -> str:
        return "<stdin>" if self.path == "-" else self.path

    def detect_format(self) -> str:
        if self.format:
            if self.format not in FORMATS:
                raise InputError(f"unknown recipient format {self.format!r} (one of {', '.join(FORMATS)})")
            return self.format
        name = self.path.lower().removesuffix(".gz")
        if name.endswith(".csv"):
            return "csv"
        if name.endswith((".jsonl", ".ndjson")):
            return "jsonl"
        return "text"


def open_text(path: str) -> IO[str]:
    """Open a list for reading as UTF-8 text; ``-`` is stdin (its spool, once
    ``spool.spool_stdin`` made one); ``.gz`` is unpacked."""
    from bulksend.lists.spool import spooled

    spool = spooled(path)
    if spool is not None:
        path = spool
    elif path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding=ENCODING, errors="strict", newline="")
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rt", encoding=ENCODING, newline="")
        return open(path, encoding=ENCODING, newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: recipient list not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open recipient list: {exc.strerror}") from None


#: up to BLOCK recipients per block, plus the errors met on the way
#: a block's recipients (``Numbers`` when it has no template values) and its bad lines
Block = tuple[Sequence[Recipient], list[RecipientError]]
BLOCK = 512
#: lines a block while a campaign is sent: what a block costs besides its
#: lines (a few numpy calls to drop repeats, a journal commit) is spread
#: over many; 512-line blocks cost 0.3 us a recipient more at 200 a batch
SEND_BLOCK = 16_384

# A NamedTuple's own __new__ is a Python function; this C call builds the
# same tuple several times faster, which matters once per recipient.
_new = tuple.__new__


def read_blocks(
    source: RecipientSource, wanted: tuple[str, ...] | None = None, size: int = BLOCK
) -> Iterator[Block]:
    """Yield ``(recipients, errors)`` blocks covering every data line in order.

    ``wanted`` names the columns to keep as template parameters (None keeps
    every column, an empty tuple keeps none, which is fastest). Reading in
    blocks keeps the per-recipient path to a handful of C calls.
    """
    fmt = source.detect_format()
    stream = open_text(source.path)
    try:
        if fmt == "csv":
            yield from _read_csv(stream, source, wanted, size)
        elif fmt == "jsonl":
            yield from _read_jsonl(stream, source, wanted, size)
        else:
            yield from _read_text(stream, source, size)
    except UnicodeDecodeError as exc:
        raise InputError(f"{source.display}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{source.display}: cannot read recipient list: {exc}") from None
    finally:
        stream.close()


def read_recipients(source: RecipientSource, wanted: tuple[str, ...] | None = None) -> Iterator[Item]:
    """Every data line, one item at a time, in file order."""
    for recipients, errors in read_blocks(source, wanted):
        if errors:
            merged: list[Item] = [*recipients, *errors]
            yield from sorted(merged, key=_line_of)
        else:
            yield from recipients


def _line_of(item: Item) -> int:
    return item.line


def _error(exc: RecipientError, raw: str, line_no: int, source: RecipientSource) -> RecipientError:
    return RecipientError(exc.reason, raw, line_no, source.display)


class _Bad(list[str]):
    """A CSV row the parser could not read (a field over its limit): rejected."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def _safe_rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """``reader``'s rows; a row it cannot parse comes as ``_Bad`` and the reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field limit" in reason:
                reason = f"a field over {csv.field_size_limit() // 1024} KiB"
            yield _Bad(reason)


def sniff_delimiter(first_line: str) -> str:
    """The separator a CSV header line holds most of, outside quotes (``,`` on a tie)."""
    outside = "".join(first_line.split('"')[::2])
    return max((",", ";", "\t"), key=outside.count)


def delimiter_of(source: RecipientSource, first_line: str) -> str:
    if source.delimiter is None:
        return sniff_delimiter(first_line)
    d = DELIMITERS.get(source.delimiter, source.delimiter)
    if len(d) != 1 or d in '"\r\n':
        raise InputError(f"--delimiter {source.delimiter!r}: one character, such as , ; or tab")
    return d


def _read_text(stream: IO[str], source: RecipientSource, size: int) -> Iterator[Block]:
    blocks = _LineBlocks(stream, size)
    line = 0
    while (text := blocks.next()) is not None:
        count = text.count("\n")
        numbers = range(line + 1, line + 1 + count)
        line += count
        clean = clean_block(text.encode(), first_field=False)
        if clean is not None:
            yield Numbers.joined(clean[0], clean[2], numbers, clean[1]), []
            continue
        raws: list[str] = []
        kept: list[int] = []
        for line_no, raw in zip(numbers, _lines(text, keepends=False)):
            raw = raw.strip()
            if raw and raw[0] != "#":
                raws.append(raw)
                kept.append(line_no)
        yield _block(raws, kept, None, [], source)


_READ = 1 << 18  # characters a read


class _LineBlocks:
    """A text stream cut into blocks of exactly ``size`` whole lines (the last
    may be shorter), read in big pieces; each block ends with a newline.

    Line ends are ``\n``, ``\r\n`` or a lone ``\r`` (old Mac exports), as
    when a text file is read line by line; blocks have them as ``\n``.
    """

    def __init__(self, stream: IO[str], size: int) -> None:
        self.stream = stream
        self.size = size
        self._cut = _nth_line(size)
        self._buf = ""
        self._lines = 0  # newlines in _buf
        self._eof = False
        self._cr = False  # the last read ended with "\r": its "\n" may come next

    def next(self) -> str | None:
        pieces = [self._buf]
        while self._lines < self.size and not self._eof:
            more = self.stream.read(_READ)
            if not more:
                self._eof = True
                break
            if self._cr and more[0] == "\n":
                more = more[1:]  # the rest of a "\r\n" cut by the read
            self._cr = more.endswith("\r")
            if "\r" in more:
                more = more.replace("\r\n", "\n").replace("\r", "\n")
            pieces.append(more)
            self._lines += more.count("\n")
        text = "".join(pieces)
        if self._lines >= self.size:
            end = self._cut.match(text)
            assert end is not None
            self._buf, text = text[end.end():], text[:end.end()]
            self._lines -= self.size
            return text
        self._buf, self._lines = "", 0
        if not text:
            return None
        return text if text.endswith("\n") else text + "\n"

    def rest(self) -> str:
        """What was read but not handed out as a block."""
        rest, self._buf, self._lines = self._buf, "", 0
        return rest


@lru_cache(maxsize=8)
def _nth_line(size: int) -> re.Pattern[str]:
    return re.compile(r"(?:[^\n]*\n){%d}" % size)


def _lines(text: str, keepends: bool) -> list[str]:
    """The lines of a block (or of what is left of a list), split at ``\n`` only,
    as they were counted (``str.splitlines`` also splits at form feeds and the like)."""
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
        return [p + "\n" for p in parts] if keepends else parts
    last = parts.pop()
    return ([p + "\n" for p in parts] + [last]) if keepends else parts + [last]


def _block(raws: list[str], lines: Sequence[int], params: list[dict[str, str]] | None,
           errors: list[RecipientError], source: RecipientSource) -> Block:
    """Normalize a block's numbers: all at once when clean, else one by one."""
    digits = normalize_block(raws)
    if digits is not None:
        if params is None:
            return Numbers(digits, lines), errors
        return [_new(Recipient, row) for row in zip(digits, params, lines)], errors
    recipients: list[Recipient] = []
    for i, raw in enumerate(raws):
        try:
            msisdn = normalize_msisdn(raw, source.region)
        except RecipientError as exc:
            errors.append(_error(exc, raw, lines[i], source))
            continue
        recipients.append(_new(Recipient, (msisdn, params[i] if params else None, lines[i])))
    return recipients, errors


def _read_csv(stream: IO[str], source: RecipientSource, wanted: tuple[str, ...] | None,
              size: int) -> Iterator[Block]:
    first = stream.readline()
    if not first:
        return
    sep = delimiter_of(source, first)
    header = [h.strip() for h in next(csv.reader([first], delimiter=sep), [""])]
    number_at = _number_column(header, source, sep)
    if number_at is None:  # a headerless one-column list: the first line is a number
        yield _block([header[0]], [1], None, [], source)
        number_at, header = 0, ["msisdn"]
    keep = [(i, h) for i, h in enumerate(header) if i != number_at and (wanted is None or h in wanted)]
    base = line = 1  # the header's
    lines_in: Iterator[str] = stream
    if not keep:  # only the numbers are wanted: most lists need no CSV parser at all
        rest = yield from _plain_csv(stream, number_at, len(header), line, size, source, sep)
        if rest is None:
            return
        unread, line = rest
        lines_in, base = chain(unread, stream), line  # quoting from here on: the real parser
    csv_reader = csv.reader(lines_in, delimiter=sep)
    reader = _safe_rows(csv_reader)
    take_number = itemgetter(number_at)
    while True:
        rows = list(islice(reader, size))
        if not rows:
            return
        end = base + csv_reader.line_num
        # Each row one line (no quoted line breaks): the usual case, numbered without a loop.
        lines: Sequence[int] = range(line + 1, end + 1) if end - line == len(rows) else _row_lines(rows, line)
        line = end
        if keep:
            yield _csv_rows(rows, lines, number_at, keep, source)
            continue
        try:
            digits = normalize_block(list(map(take_number, rows)))
        except IndexError:  # a short or blank row
            digits = None
        if digits is None:
            yield _csv_rows(rows, lines, number_at, keep, source)
        else:
            yield Numbers(digits, lines), []


def _plain_csv(stream: IO[str], number_at: int, columns: int, line: int, size: int,
               source: RecipientSource, sep: str = ",") -> Generator[Block, None, tuple[list[str], int] | None]:
    """Blocks of a CSV list without quotes: numpy cuts a first-column number off
    each line (``clean_block``), ``str.split`` any other column; both several
    times as fast as ``csv``.

    Returns at the end of the list (None), or at the first block holding a
    quote: ``(its lines and the rest, the line before them)``, for the CSV
    parser to go on.
    """
    last = number_at == columns - 1
    blocks = _LineBlocks(stream, size)
    while (text := blocks.next()) is not None:
        if '"' in text:
            return _lines(text + blocks.rest(), keepends=True), line
        chunk = _lines(text, keepends=True) if number_at or last else None
        count = len(chunk) if chunk is not None else text.count("\n")
        numbers = range(line + 1, line + 1 + count)
        line += count
        if chunk is None:
            clean = clean_block(text.encode(), first_field=True, sep=ord(sep))
            if clean is not None:
                yield Numbers.joined(clean[0], clean[2], numbers, clean[1]), []
                continue
            chunk = _lines(text, keepends=True)
        try:
            raws = [text.split(sep, number_at + 1)[number_at] for text in chunk]
            if last:
                raws = [raw.rstrip("\r\n") for raw in raws]
            digits = normalize_block(raws)
        except IndexError:  # a short row
            digits = None
        if digits is None:  # blank or short rows, bad numbers: the careful path, same rows
            yield _csv_rows(list(_safe_rows(csv.reader(chunk, delimiter=sep))), numbers, number_at, [], source)
        else:
            yield Numbers(digits, numbers), []
    return None


def _row_lines(rows: list[list[str]], before: int) -> list[int]:
    """The line each row ends on, counting the line breaks inside quoted fields."""
    out = []
    for row in rows:
        breaks = sum(f.count("\n") + f.count("\r") - f.count("\r\n") for f in row)
        before += 1 + breaks
        out.append(before)
    return out


def _csv_rows(rows: list[list[str]], lines: Sequence[int], number_at: int, keep: list[tuple[int, str]],
              source: RecipientSource) -> Block:
    raws: list[str] = []
    kept_lines: list[int] = []
    params: list[dict[str, str]] | None = [] if keep else None
    errors: list[RecipientError] = []
    for row, line_no in zip(rows, lines):
        if isinstance(row, _Bad):
            errors.append(RecipientError(row.reason, "", line_no, source.display))
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) <= number_at:
            errors.append(RecipientError("missing number column", sep_join(row), line_no, source.display))
            continue
        raws.append(row[number_at])
        kept_lines.append(line_no)
        if params is not None:
            params.append({h: row[i] for i, h in keep if i < len(row)})
    return _block(raws, kept_lines, params, errors, source)


def sep_join(row: list[str]) -> str:
    return ",".join(row)[:200]


def _columns_found(header: list[str], sep: str) -> str:
    shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
    return f"columns found: {shown} (read with {'tab' if sep == chr(9) else repr(sep)} as the delimiter)"


def _number_column(header: list[str], source: RecipientSource, sep: str = ",") -> int | None:
    lowered = [h.lower() for h in header]
    if source.column:
        if source.column.lower() in lowered:
            return lowered.index(source.column.lower())
        raise InputError(f"{source.display}:1: no column named {source.column!r}; {_columns_found(header, sep)}")
    for name in NUMBER_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    if len(header) == 1:
        try:
            normalize_msisdn(header[0], source.region)
            return None
        except RecipientError:
            pass
    raise InputError(
        f"{source.display}:1: no number column (looked for {', '.join(NUMBER_COLUMNS)}; name one with "
        f"--column, or the delimiter with --delimiter); {_columns_found(header, sep)}"
    )


def _read_jsonl(stream: IO[str], source: RecipientSource, wanted: tuple[str, ...] | None,
                size: int) -> Iterator[Block]:
    rs: list[Recipient] = []
    es: list[RecipientError] = []
    for line_no, line in enumerate(stream, 1):
        if not line.strip():
            continue
        item = _jsonl_item(line, line_no, source, wanted)
        if isinstance(item, RecipientError):
            es.append(item)
            continue
        rs.append(item)
        if len(rs) >= size:
            yield rs, es
            rs, es = [], []
    yield rs, es


def _jsonl_item(line: str, line_no: int, source: RecipientSource, wanted: tuple[str, ...] | None) -> Item:
    names = (source.column,) if source.column else NUMBER_COLUMNS
    shown = line.strip()[:80]
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return RecipientError("not valid JSON", shown, line_no, source.display)
    params: dict[str, str] | None = None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        raw = str(value)
    elif isinstance(value, dict):
        key = next((k for k in names if k in value), None)
        if key is None:
            return RecipientError(f"no {'/'.join(names)} field", shown, line_no, source.display)
        raw = _text(value[key])
        params = {k: _text(v) for k, v in value.items() if k != key and (wanted is None or k in wanted)} or None
    else:
        return RecipientError("expected an object or a number", shown, line_no, source.display)
    try:
        return Recipient(normalize_msisdn(raw, source.region), params, line_no)
    except RecipientError as exc:
        return _error(exc, raw, line_no, source)


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def count_lines(path: str) -> int | None:
    """Lines that can hold a recipient (a CSV header is not one), a cheap total
    for the progress bar: the pre-scan's count (``scan``) when this process made
    one, else counted; None for stdin that was not scanned."""
    from bulksend.lists.scanned import scanned

    done = scanned(path)
    if done is not None:
        return done.data_lines
    if path == "-":
        return None
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
        return max(0, lines - header_lines(RecipientSource(path)))
    except (OSError, EOFError, InputError, UnicodeDecodeError):  # gzip's own errors are OSErrors too
        return None


def header_lines(source: RecipientSource) -> int:
    """1 when the list's first line is a CSV header, else 0; ``InputError`` when
    a CSV header names no number column."""
    if source.detect_format() != "csv":
        return 0
    with open_text(source.path) as stream:
        first = stream.readline()
    if not first:
        return 0
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter_of(source, first)), [""])]
    return 0 if _number_column(header, source, delimiter_of(source, first)) is None else 1


def load_numbers(source: RecipientSource) -> set[str]:
    """Every valid number of a list, e.g. the opt-outs given with ``--exclude``."""
    return {r.msisdn for recipients, _errors in read_blocks(source, wanted=()) for r in recipients}


def default_rejects_path(results: str | None, campaign: str) -> Path:
    base = Path(results).parent if results else Path(".")
    return base / f"{campaign}.rejects.csv"


def peek_columns(source: RecipientSource) -> tuple[str, ...] | None:
    """The parameter columns a list offers (header of a CSV, keys of the first
    JSONL object), or None when that cannot be known without consuming stdin."""
    if source.path == "-":
        return None
    fmt = source.detect_format()
    if fmt == "text":
        return ()
    with open_text(source.path) as stream:
        try:
            first = next((line for line in stream if line.strip()), "")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source.display}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if fmt == "csv":
        return tuple(h.strip() for h in next(csv.reader([first], delimiter=delimiter_of(source, first)), []))
    try:
        value = orjson.loads(first) if first else {}
    except orjson.JSONDecodeError:
        return None
    return tuple(value) if isinstance(value, dict) else ()
