"""The pre-scan: a list is read to its end before the first batch leaves.

Exit 2 means nothing was sent, so a list that cannot be read to its end (a
byte that is not UTF-8, a NUL byte, a gzip file cut short, an I/O error) is
found here, before anything is sent, and refused with one line naming the
file, the line and the reason. The pass is byte-level and cheap: the file
(unpacked, for ``.gz``) in 1 MiB pieces, a ``memchr`` for NUL, an ASCII
check (a UTF-8 decode only for pieces that are not ASCII) and a newline
count, which is also the progress bar's total: the list is counted once.

A list that can be read only once (stdin, a pipe) is first copied to a
private file (``spool``), then scanned and read from the copy.

Each list is scanned once per process: the result is kept by path, size
and mtime, so the CLI (which shows the scan's progress) and the library
call under it do not both pay for it.
"""

from __future__ import annotations

import codecs
import gzip
import os
import stat
import zlib
from collections.abc import Callable, Iterable
from typing import IO

from bulksend.errors import InputError
from bulksend.lists.scanned import ListScan, remember, scanned
from bulksend.lists.sources import RecipientSource, header_lines
from bulksend.lists.spool import spool, spooled

#: ``(bytes read, bytes in all)`` of the file on disk, as the scan goes
OnScan = Callable[[int, int], None]

_PIECE = 1 << 20


def scan_inputs(recipients: RecipientSource, exclude: Iterable[RecipientSource] = (),
                on_progress: OnScan | None = None) -> ListScan:
    """Scan the list and the exclude lists; ``InputError`` unless all read to
    their end and the list has at least one line that can hold a recipient."""
    for source in exclude:
        scan_list(source, "exclude list", on_progress)
    found = scan_list(recipients, "recipient list", on_progress)
    if found.data_lines == 0:
        raise InputError(f"{recipients.display}: no sendable recipients: the list is empty; nothing was sent")
    return found


def scan_list(source: RecipientSource, what: str = "recipient list",
              on_progress: OnScan | None = None) -> ListScan:
    """Read ``source`` to its end, byte-level; ``InputError`` naming file, line and reason."""
    path = source.path
    if path == "-" or _not_regular(path):
        try:
            spool(path)
        except OSError as exc:
            raise InputError(f"{source.display}: cannot copy the {what} aside to check it: "
                             f"{exc.strerror}; nothing was sent") from None
    done = scanned(path)
    if done is not None:
        return done
    target = spooled(path) or path
    try:
        raw = open(target, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise InputError(f"{source.display}: {what} not found; nothing was sent") from None
    except OSError as exc:
        raise InputError(f"{source.display}: cannot open the {what}: {exc.strerror}; nothing was sent") from None
    with raw:
        lines = _read_through(raw, target.endswith(".gz"), source.display, what, on_progress)
    data = lines - header_lines(source) if lines else 0
    return remember(ListScan(path, lines, max(0, data)))


def _not_regular(path: str) -> bool:
    """A pipe or a device: it can be read only once."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # the open below says why
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _read_through(raw: IO[bytes], packed: bool, name: str, what: str, on_progress: OnScan | None) -> int:
    total = os.fstat(raw.fileno()).st_size
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if packed else raw  # type: ignore[assignment]
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    last = b"\n"
    try:
        while piece := stream.read(_PIECE):
            if not (piece.isascii() and decoder.getstate()[0] == b""):
                try:
                    decoder.decode(piece)
                except UnicodeDecodeError as exc:
                    at = lines + exc.object[:exc.start].count(b"\n") + 1
                    raise InputError(f"{name}:{at}: not valid UTF-8 ({exc.reason}, byte "
                                     f"0x{exc.object[exc.start]:02x}); nothing was sent") from None
            if b"\0" in piece:
                at = lines + piece[:piece.index(b"\0")].count(b"\n") + 1
                raise InputError(f"{name}:{at}: a NUL byte: this {what} is not text; nothing was sent")
            lines += piece.count(b"\n")
            last = piece[-1:]
            if on_progress is not None:
                on_progress(raw.tell(), total)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}:{lines + 1}: not valid UTF-8 at the end of the file ({exc.reason}); "
                         "nothing was sent") from None
    except EOFError:
        raise InputError(f"{name}:{lines + 1}: the gzip file ends early (truncated); nothing was sent") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{name}:{lines + 1}: damaged gzip data ({exc}); nothing was sent") from None
    except OSError as exc:
        raise InputError(f"{name}:{lines + 1}: cannot read the {what}: {exc.strerror or exc}; "
                         "nothing was sent") from None
    return lines + (last != b"\n")
