"""What a campaign's messages cost in parts, and whether a body is allowed.

Pure: bodies in, counts out. Each distinct body is counted once (a bounded
cache), so a campaign with one static body counts once in all, and a
templated one counts each rendered variant once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bulksend.core.segments import SegmentInfo, count_segments

MAX_CONCATENATED_PARTS = 255


def body_problem(info: SegmentInfo, body: str, max_parts: int | None, max_chars: int | None) -> str:
    """Why ``body`` may not be sent, or "" when it may."""
    if max_chars is not None and len(body) > max_chars:
        return f"the message is {len(body):,} characters; the provider allows {max_chars:,}"
    limit = min(max_parts or MAX_CONCATENATED_PARTS, MAX_CONCATENATED_PARTS)
    if info.segments > limit:
        return (f"the message is {info.segments} parts ({info.encoding.value}, {info.units:,} "
                f"{info.unit_name}); the limit is {limit}")
    return ""


class BodyMeter:
    """Counts bodies with a cache; ``tally`` keeps the campaign's totals."""

    __slots__ = ("max_parts", "max_chars", "tally", "_cache", "_cache_size")

    def __init__(self, max_parts: int | None = None, max_chars: int | None = None,
                 cache_size: int = 65_536) -> None:
        self.max_parts = max_parts
        self.max_chars = max_chars
        self.tally = PartsTally()
        self._cache: dict[str, tuple[SegmentInfo, str]] = {}
        self._cache_size = cache_size

    def measure(self, body: str) -> tuple[SegmentInfo, str]:
        """``(info, problem)`` for ``body``; problem is "" when it may be sent."""
        found = self._cache.get(body)
        if found is None:
            info = count_segments(body)
            found = (info, body_problem(info, body, self.max_parts, self.max_chars))
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # bounded memory on lists where every body differs
            self._cache[body] = found
        return found

    def add(self, body: str, recipients: int = 1) -> str:
        """Count ``recipients`` receiving ``body``; returns the problem, if any."""
        info, problem = self.measure(body)
        if not problem:
            self.tally.add(info, recipients)
        return problem


@dataclass(slots=True)
class PartsTally:
    recipients: int = 0
    total_parts: int = 0
    min_parts: int = 0
    max_parts: int = 0
    encodings: Counter[str] = field(default_factory=Counter)

    def add(self, info: SegmentInfo, recipients: int = 1) -> None:
        if recipients <= 0:
            return
        first = self.recipients == 0
        self.recipients += recipients
        self.total_parts += info.segments * recipients
        self.min_parts = info.segments if first else min(self.min_parts, info.segments)
        self.max_parts = max(self.max_parts, info.segments)
        self.encodings[info.encoding.value] += recipients

    @property
    def encoding(self) -> str:
        if not self.encodings:
            return "-"
        return next(iter(self.encodings)) if len(self.encodings) == 1 else "mixed"

    def to_dict(self, rate: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "encoding": self.encoding,
            "encodings": dict(self.encodings),
            "recipients": self.recipients,
            "parts_per_recipient": {"min": self.min_parts, "max": self.max_parts,
                                    "mean": round(self.total_parts / self.recipients, 3)
                                    if self.recipients else 0.0},
            "total_parts": self.total_parts,
        }
        if rate:
            # Providers rate-limit recipients (messages), not parts.
            out["estimated_duration_s"] = round(self.recipients / rate, 1)
        return out

