"""HdrHistogram helpers: microsecond latencies, clamped, percentiles in ms.

Whole-run histograms keep 3 significant figures; the per-second ones keep 2
(a tenth of the memory, still 1% resolution), and both cover 1 µs .. 1 hour.
Histograms cross process boundaries as HdrHistogram's own compressed,
base64 encoding and are merged with ``add``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour: anything slower is recorded as one hour
FINE = 3
COARSE = 2
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def new_histogram(figures: int = FINE) -> Any:
    return HdrHistogram(1, MAX_US, figures)


def record_seconds(histogram: Any, seconds: float) -> None:
    """Record a duration in seconds as whole microseconds (negative → 0)."""
    histogram.record_value(min(MAX_US, max(0, round(seconds * 1e6))))


def encode(histogram: Any) -> str:
    encoded = histogram.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)


def decode(blob: str) -> Any:
    return HdrHistogram.decode(blob.encode("ascii"))


def merged(into: Any | None, other: Any) -> Any:
    """``into`` plus ``other`` (``into`` may be None); ``other`` is untouched."""
    if into is None:
        into = new_histogram(other.significant_figures)
    into.add(other)
    return into


def values_at(histogram: Any, percentiles: Iterable[float]) -> dict[float, int]:
    """``{percentile: value}``, as ``get_value_at_percentile`` answers, in one pass.

    hdrh walks its counts in a Python loop per call (milliseconds each); a
    cumulative sum and a binary search do it in C.
    """
    wanted = list(percentiles)
    total = histogram.get_total_count()
    if not total:
        return {p: 0 for p in wanted}
    cumulative = list(accumulate(histogram.counts[:histogram.counts_len]))
    out = {}
    for p in wanted:
        target = max(1, int(min(p, 100.0) * total / 100 + 0.5))
        index = min(bisect_left(cumulative, target), histogram.counts_len - 1)
        out[p] = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
    return out


#: the percentiles of a distribution plot: denser towards the tail, as HdrHistogram's own output
DISTRIBUTION = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.975, 99.99,
                99.995, 99.999, 99.9995, 99.9999)


def distribution(histogram: Any) -> tuple[tuple[float, float], ...]:
    """``((percentile, ms), ...)`` up to the tail the sample count can tell, then the max (100)."""
    total = histogram.get_total_count()
    if not total:
        return ()
    wanted = [p for p in DISTRIBUTION if 100.0 / (100.0 - p) <= total]
    at = values_at(histogram, wanted)
    return (*((p, at[p] / 1000) for p in wanted), (100.0, histogram.get_max_value() / 1000))


def mean_of(histogram: Any) -> float:
    """The mean, as ``get_mean_value`` computes it, without hdrh's slow iterator."""
    total = histogram.get_total_count()
    if not total:
        return 0.0
    counts = histogram.counts[:histogram.counts_len]
    weighted = sum(count * histogram._hdr_median_equiv_value(histogram.get_value_from_index(index))
                   for index, count in enumerate(counts) if count)
    return float(weighted / total)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """A latency distribution summed up, in milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    mean: float

    @classmethod
    def of(cls, histogram: Any) -> Percentiles:
        count = histogram.get_total_count()
        if not count:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        at = values_at(histogram, PERCENTILES)
        p50, p90, p99, p999 = (at[p] / 1000 for p in PERCENTILES)
        return cls(count, p50, p90, p99, p999, histogram.get_max_value() / 1000,
                   mean_of(histogram) / 1000)

    def to_dict(self) -> dict[str, float]:
        return {"count": self.count, "p50": self.p50, "p90": self.p90, "p99": self.p99,
                "p99.9": self.p999, "max": self.max, "mean": round(self.mean, 3)}
