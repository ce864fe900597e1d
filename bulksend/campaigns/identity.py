"""A campaign's inputs are part of its identity: its list, its exclude lists, its message.

``send`` under a name the journal knows goes on with that campaign; given
another list or another message, it would silently finish the old one (or
say "nothing left to send"). So each input file is fingerprinted when the
campaign is created (its size and a BLAKE2b hash of its bytes: a list is a
few megabytes and the hash reads it at memory speed) and compared when the
name comes back. What changed is named; ``--allow-changes`` takes the new
inputs, and the campaign reads the new list for the recipients it does not
have yet (numbers already in the campaign are skipped as repeats).

A list from stdin cannot be read twice, so it has no fingerprint and is
never compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import orjson

from bulksend.errors import InputError
from bulksend.models import Message

_READ = 1 << 20


def file_fingerprint(path: str) -> str:
    """``"SIZE:HASH"`` of a file's bytes, or "" for stdin."""
    if path == "-":
        return ""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_READ):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return f"{size}:{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Inputs:
    """The fingerprints of a campaign's list and exclude lists (by resolved path)."""

    list_path: str
    list_fp: str
    exclude: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        return orjson.dumps({"list": [self.list_path, self.list_fp],
                             "exclude": [list(e) for e in self.exclude]}).decode()

    @classmethod
    def from_json(cls, text: str) -> Inputs | None:
        """None for a campaign created before fingerprints were kept (nothing to compare)."""
        if not text:
            return None
        d = orjson.loads(text)
        path, fp = d["list"]
        return cls(path, fp, tuple((p, f) for p, f in d.get("exclude", ())))


def inputs_of(path: str, exclude: Sequence[str]) -> Inputs:
    def resolved(p: str) -> str:
        return p if p == "-" else str(Path(p).resolve())

    return Inputs(resolved(path), file_fingerprint(path),
                  tuple((resolved(e), file_fingerprint(e)) for e in exclude))


def input_changes(old: Inputs | None, new: Inputs) -> list[str]:
    """What differs between the inputs a campaign was created with and ``new``, in words."""
    if old is None:
        return []
    changes = []
    if old.list_fp and new.list_fp and old.list_fp != new.list_fp:
        changes.append(f"a different list ({new.list_path}: {_size(old.list_fp)} -> {_size(new.list_fp)} bytes"
                       f"{', other content' if _size(old.list_fp) == _size(new.list_fp) else ''})")
    before, now = dict(old.exclude), dict(new.exclude)
    if sorted(before.values()) != sorted(now.values()):
        named = ", ".join(sorted(set(before) ^ set(now)) or
                          sorted(p for p in now if before.get(p) != now[p])) or "their content"
        changes.append(f"a different exclude list ({named})")
    return changes


def message_changes(old: Message, new: Message) -> str:
    """The message's fields that differ, named (``"the body, the sender"``)."""
    names = {"body": "body", "sender": "sender (--from)", "defaults": "defaults (--param)",
             "delivery_report": "--delivery-report", "send_at": "--send-at", "expire_at": "--expire-at",
             "callback_url": "--callback-url", "max_parts": "max_parts"}
    differ = [names.get(f.name, f.name) for f in fields(Message) if getattr(old, f.name) != getattr(new, f.name)]
    return ", ".join(differ) or "options"


def _size(fp: str) -> str:
    return f"{int(fp.split(':')[0]):,}"
