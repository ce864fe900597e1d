"""A campaign's delivery picture: delivered / failed / pending and latency.

``delivery_summary(store, campaign)`` is what ``bulksend status CAMPAIGN``
shows under "delivery"; ``format_delivery`` renders it as text lines.
Pending is every accepted recipient without a final status yet (queued,
dispatched, unknown, or never reported). Latency is accepted → delivered,
over delivered recipients whose acceptance time is known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bulksend.delivery.model import DeliveryStatus
from bulksend.delivery.store import DeliveryStore

_FAILED = (DeliveryStatus.FAILED, DeliveryStatus.EXPIRED, DeliveryStatus.REJECTED, DeliveryStatus.ABORTED)
PERCENTILES = (50, 90, 95, 99)


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (not empty)."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_distribution(values: Sequence[float]) -> dict[str, Any]:
    """``{count, min, mean, p50, p90, p95, p99, max}`` in seconds (``count`` 0: no other keys)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    out: dict[str, Any] = {"count": len(ordered), "min": round(ordered[0], 3),
                           "mean": round(sum(ordered) / len(ordered), 3)}
    for pct in PERCENTILES:
        out[f"p{pct}"] = round(percentile(ordered, pct), 3)
    out["max"] = round(ordered[-1], 3)
    return out


async def delivery_summary(store: DeliveryStore, campaign: str, *, accepted: int | None = None) -> dict[str, Any]:
    """Counts and latency for ``campaign``.

    ``accepted`` overrides the number of accepted recipients (e.g. from the
    journal) when the store did not see the sends itself.
    """
    counts = await store.counts(campaign)
    by_status = {s.value: counts.get(s.value, 0) for s in DeliveryStatus}
    final = sum(by_status[s.value] for s in DeliveryStatus if s.final)
    reported = sum(by_status.values())
    sent = accepted if accepted is not None else counts.get("sent", 0)
    sent = max(sent, final)
    return {
        "campaign": campaign,
        "accepted": sent,
        "reported": reported,
        "delivered": by_status[DeliveryStatus.DELIVERED.value],
        "failed": sum(by_status[s.value] for s in _FAILED),
        "pending": sent - final,
        "by_status": {k: v for k, v in by_status.items() if v},
        "latency_s": latency_distribution(await store.latencies(campaign)),
    }


def format_delivery(summary: dict[str, Any]) -> list[str]:
    """Text lines for ``bulksend status``."""
    s = summary
    lines = [
        f"  delivered  {s['delivered']:>10,}   of {s['accepted']:,} accepted",
        f"  failed     {s['failed']:>10,}   "
        + "  ".join(f"{k} {v:,}" for k, v in s["by_status"].items() if k not in ("delivered", "pending")),
        f"  pending    {s['pending']:>10,}   (no final status yet)",
    ]
    lat = s["latency_s"]
    if lat["count"]:
        lines.append(f"  latency    accepted -> delivered: p50 {lat['p50']:.2f}s  p90 {lat['p90']:.2f}s  "
                     f"p99 {lat['p99']:.2f}s  max {lat['max']:.2f}s  (n={lat['count']:,})")
    return lines
