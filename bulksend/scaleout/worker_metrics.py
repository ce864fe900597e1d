"""A worker's figures on the process's ``bulksend.metrics`` registry.

``bulksend worker --metrics-port N`` serves the same ``/metrics`` as
``send``/``resume`` (``metrics.serving``; the engine's transport counts
requests by status, 429s and their latency) and adds, read when scraped:
per plan, the ``WorkerStats`` counters (``bulksend_worker_<stat>_total``)
and the booked waits by batch size (p50, p99), and Redis calls by script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bulksend.config import PlanConfig
from bulksend.scaleout.gcra import MICROS

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from bulksend.scaleout.broker import Broker

#: what each ``WorkerStats`` counter counts
STATS_HELP = {
    "taken": "stream entries taken (and booked) by this worker",
    "reclaimed": "entries taken over from a worker whose lease ran out",
    "finished": "entries whose outcome this worker published",
    "skipped": "entries handed back unsent (their campaign stopped)",
    "handed_back": "entries left for another worker (drained, or taken over while waiting)",
    "requests": "send requests to the provider",
    "lookups": "provider lookups before resending a reclaimed entry",
}


class PlanWorkerFigures(Protocol):
    """What is read of a ``worker.PlanWorker`` (named here, not imported: the worker imports this)."""

    plan: PlanConfig
    stats: Any  # a ``worker.WorkerStats``: one int attribute per ``STATS_HELP`` key
    waits: Mapping[int, Iterable[int]]


class WorkerCollector:
    """Reads the workers' figures when ``/metrics`` is scraped (nothing is copied as it changes)."""

    def __init__(self, workers: Sequence[PlanWorkerFigures], broker: Broker) -> None:
        self.workers = workers
        self.broker = broker

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        calls = CounterMetricFamily("bulksend_worker_redis_calls", "Redis calls by script", labels=["script"])
        for name, n in sorted(self.broker.calls.items()):
            calls.add_metric([name], n)
        yield calls
        for stat, text in STATS_HELP.items():
            family = CounterMetricFamily(f"bulksend_worker_{stat}", text, labels=["plan"])
            for w in self.workers:
                family.add_metric([w.plan.name], getattr(w.stats, stat))
            yield family
        waits = GaugeMetricFamily("bulksend_worker_booked_wait_seconds", "the wait the shared rate booked, "
                                  "by batch size (of the last 10,000 of each size)",
                                  labels=["plan", "size", "quantile"])
        for w in self.workers:
            for size, booked in sorted(w.waits.items()):
                ordered = sorted(booked)
                for q in (0.5, 0.99):
                    at = ordered[min(len(ordered) - 1, int(q * len(ordered)))] / MICROS
                    waits.add_metric([w.plan.name, str(size), str(q)], at)
        yield waits

    def describe(self) -> Iterable[Any]:
        return []
