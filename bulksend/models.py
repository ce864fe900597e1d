"""Values that cross module boundaries.

Per-batch and per-campaign values are frozen, slotted dataclasses that check
themselves when built. ``Recipient`` is a ``NamedTuple`` instead: a campaign
makes millions of them, and a tuple is built several times faster than a
frozen dataclass while being just as immutable. Recipients without template
values usually travel as ``Numbers``, which makes no object per recipient
at all unless one is asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, NamedTuple, overload


class Recipient(NamedTuple):
    """One normalized recipient: digits only, no prefix."""

    msisdn: str
    params: Mapping[str, str] | None = None
    line: int = 0


class Numbers(Sequence[Recipient]):
    """Recipients without template values, kept as their numbers (and list lines).

    It reads as a sequence of ``Recipient``, built one at a time when asked
    for; the hot path (dedup, the request's ``to`` list, the journal) uses
    ``numbers`` and never builds them. Read from a clean block of a list
    (``Numbers.joined``), it holds one string, the numbers joined by
    newlines, with their keys and offsets: a batch is a slice of it, and the
    numbers become separate strings only when something asks for ``numbers``.
    """

    __slots__ = ("_numbers", "lines", "_text", "_starts", "_lo", "_hi", "_keys")

    def __init__(self, numbers: Sequence[str], lines: Sequence[int] | None = None) -> None:
        if lines is not None and len(lines) != len(numbers):
            raise ValueError("one line per number")
        self._numbers: Sequence[str] | None = numbers
        self.lines = lines
        self._text = ""
        self._starts: Any = None
        self._lo = self._hi = 0
        self._keys: Any = None

    @classmethod
    def joined(cls, text: str, starts: Any, lines: Sequence[int] | None = None, keys: Any = None) -> Numbers:
        """Numbers held as ``text`` (joined by newlines); ``starts[i]`` is where
        number ``i`` starts, ``starts[-1]`` the text's length plus one. Slices
        are views of the same text: cutting a block into batches copies nothing."""
        return cls._view(text, starts, 0, len(starts) - 1, lines, keys)

    @classmethod
    def _view(cls, text: str, starts: Any, lo: int, hi: int, lines: Sequence[int] | None, keys: Any) -> Numbers:
        self = cls.__new__(cls)
        self._numbers = None
        self._text, self._starts, self._lo, self._hi, self._keys = text, starts, lo, hi, keys
        self.lines = lines
        return self

    @property
    def numbers(self) -> Sequence[str]:
        if self._numbers is None:
            self._numbers = self._joined().split("\n")
        return self._numbers

    @property
    def keys(self) -> Any:
        """The numbers as int64 keys (a numpy array), when the reader made them."""
        return None if self._keys is None else self._keys[self._lo:self._hi]

    @property
    def clean_text(self) -> str | None:
        """The numbers joined by newlines when they were read from a clean block
        (digits only, checked by the reader); None otherwise."""
        return None if self._starts is None else self._joined()

    def _joined(self) -> str:
        return self._text[int(self._starts[self._lo]):int(self._starts[self._hi]) - 1]

    def text(self, sep: str = "\n") -> str:
        """The numbers joined by ``sep``."""
        if self._starts is None:
            return sep.join(self.numbers)
        joined = self._joined()
        return joined if sep == "\n" else joined.replace("\n", sep)

    def __len__(self) -> int:
        if self._starts is not None:
            return self._hi - self._lo
        assert self._numbers is not None
        return len(self._numbers)

    @overload
    def __getitem__(self, index: int) -> Recipient: ...

    @overload
    def __getitem__(self, index: slice) -> Numbers: ...

    def __getitem__(self, index: int | slice) -> Recipient | Numbers:
        lines = self.lines
        if isinstance(index, slice):
            sliced_lines = lines[index] if lines is not None else None
            if self._starts is not None and index.step in (None, 1):
                start, stop, _ = index.indices(len(self))
                if start < stop:
                    return Numbers._view(self._text, self._starts, self._lo + start, self._lo + stop,
                                         sliced_lines, self._keys)
            return Numbers(self.numbers[index], sliced_lines)
        line = lines[index] if lines is not None else 0
        if self._starts is not None and self._numbers is None:  # one number cut out, the rest left joined
            at = self._lo + range(len(self))[index]
            return Recipient(self._text[int(self._starts[at]):int(self._starts[at + 1]) - 1], None, line)
        return Recipient(self.numbers[index], None, line)

    def __iter__(self) -> Iterator[Recipient]:
        if self.lines is None:
            return (Recipient(m) for m in self.numbers)
        return (Recipient(m, None, n) for m, n in zip(self.numbers, self.lines))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Numbers({list(self.numbers)!r})"


def keep_only(recipients: Sequence[Recipient], keep: Sequence[bool]) -> Sequence[Recipient]:
    """The recipients whose ``keep`` is true, in order (still ``Numbers`` if they were)."""
    if isinstance(recipients, Numbers):
        lines = recipients.lines
        return Numbers(list(compress(recipients.numbers, keep)),
                       list(compress(lines, keep)) if lines is not None else None)
    return list(compress(recipients, keep))


def keys_of(recipients: Sequence[Recipient]) -> Any:
    """The recipients' numbers as int64 keys (a numpy array); made by the reader
    already when they are ``Numbers`` from a clean block."""
    if isinstance(recipients, Numbers) and recipients.keys is not None:
        return recipients.keys
    from bulksend.core.seen import as_keys

    return as_keys(numbers_of(recipients))


def numbers_of(recipients: Sequence[Recipient]) -> Sequence[str]:
    """The recipients' numbers, without building a list when they are ``Numbers``."""
    if isinstance(recipients, Numbers):
        return recipients.numbers
    return [r.msisdn for r in recipients]


@dataclass(frozen=True, slots=True)
class Batch:
    """Recipients that go out in one provider request, in queue order."""

    campaign: str
    seq: int
    recipients: Sequence[Recipient]

    def __post_init__(self) -> None:
        if not self.recipients:
            raise ValueError("a batch needs at least one recipient")
        if self.seq < 0:
            raise ValueError("batch seq must be >= 0")

    @property
    def size(self) -> int:
        return len(self.recipients)

    @property
    def numbers(self) -> Sequence[str]:
        return numbers_of(self.recipients)

    @property
    def client_reference(self) -> str:
        """Stable across retries and restarts, so a batch can be found again."""
        return f"{self.campaign}:{self.seq}"


class DeliveryReport(str, enum.Enum):
    NONE = "none"
    SUMMARY = "summary"
    FULL = "full"
    PER_RECIPIENT = "per_recipient"
    PER_RECIPIENT_FINAL = "per_recipient_final"


@dataclass(frozen=True, slots=True)
class Message:
    """What every recipient of a campaign is sent (before templating)."""

    body: str
    sender: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    delivery_report: DeliveryReport = DeliveryReport.NONE
    send_at: str | None = None
    expire_at: str | None = None
    callback_url: str | None = None
    max_parts: int | None = None

    def __post_init__(self) -> None:
        if self.max_parts is not None and not 1 <= self.max_parts <= 255:
            raise ValueError("max_parts must be between 1 and 255")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request a provider codec built; the engine sends it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back, handed to a provider codec to interpret."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Status(str, enum.Enum):
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a recipient (or of every recipient of a batch)."""

    status: Status
    provider_id: str = ""
    code: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A provider's answer to one batch.

    ``outcome`` holds for every recipient unless ``per_recipient`` names the
    recipient (providers such as Clickatell answer per number).
    """

    outcome: Outcome
    per_recipient: Mapping[str, Outcome] | None = None

    def outcome_for(self, msisdn: str) -> Outcome:
        if self.per_recipient is not None:
            found = self.per_recipient.get(msisdn)
            if found is not None:
                return found
        return self.outcome
