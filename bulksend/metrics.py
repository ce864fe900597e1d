"""Prometheus metrics: one ``Metrics`` object per process, nothing at import.

Nothing here runs on the per-recipient path. Counts a campaign already
keeps (``CampaignStats``: recipients by outcome, batches, retries) and the
bucket's waiting time are read when ``/metrics`` is scraped, not copied as
they change; HTTP requests are counted per request (one per batch) where
they leave, the engine's transport, so the engine's code has no metric
calls in it at all.

A layer takes a ``Metrics`` as an optional argument (``Engine(metrics=...)``,
which wraps its transport in a ``MeteredTransport``; a load test, which has
its own session, counts through an ``aiohttp.TraceConfig``).
The CLI, which does not build the engine itself, makes one ``current`` for
the run with ``use(metrics)``; an engine built without one picks it up.
"""

from __future__ import annotations

# prometheus_client is imported where it is used, not here: the engine imports
# this module for ``current()``, and a command's start-up (``send --help``)
# should not pay ~40 ms for metrics nobody asked for.

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: request latencies: a loopback sandbox answers in ~1 ms, a provider in 50 ms to a few s
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: delivery latencies (sent to delivery report): seconds to hours
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)

#: where a campaign's recipients ended, as ``CampaignStats`` fields
OUTCOMES = (("accepted", "sent"), ("failed", "failed"), ("unknown", "unknown"), ("not_sent", "not_sent"),
            ("invalid", "invalid"), ("duplicate", "duplicates"), ("excluded", "excluded"))


#: ``trace_request_ctx`` of a request that is no part of the figures (a load test's warm-up)
UNCOUNTED: Mapping[str, Any] = {"bulksend_metrics": "uncounted"}


class _Stats(Protocol):
    """What is read of a run: ``CampaignStats`` has these (read-only here)."""

    @property
    def sent(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def unknown(self) -> int: ...

    @property
    def not_sent(self) -> int: ...

    @property
    def invalid(self) -> int: ...

    @property
    def duplicates(self) -> int: ...

    @property
    def excluded(self) -> int: ...

    @property
    def batches(self) -> int: ...

    @property
    def retries(self) -> int: ...


class _Bucket(Protocol):
    @property
    def waited(self) -> float: ...


class Metrics:
    """A registry and the instruments on it; give each process (or test) its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("bulksend_requests", "HTTP requests to providers (sends and lookups), "
                                "by HTTP status; 'error' when no answer came", ["status"], registry=r)
        self.rate_limited = Counter("bulksend_rate_limited", "requests the provider answered 429 "
                                    "(too many requests)", registry=r)
        self.in_flight = Gauge("bulksend_requests_in_flight", "HTTP requests sent and not yet answered",
                               registry=r)
        self.request_latency = Histogram("bulksend_request_duration_seconds", "time from sending a request "
                                         "to its full answer", buckets=REQUEST_BUCKETS, registry=r)
        self._runs: list[_Stats] = []
        self._buckets: dict[int, _Bucket] = {}
        self._deliveries: list[Any] = []
        r.register(_EngineCollector(self._runs, self._buckets, self._deliveries))  # type: ignore[arg-type]
        self._by_status: dict[str, Any] = {}

    # -- the engine ------------------------------------------------------
    def watch(self, stats: _Stats, bucket: _Bucket | None = None) -> None:
        """Report a campaign run's counts (read at scrape time) and its plan's bucket."""
        self._runs.append(stats)
        if bucket is not None:
            self._buckets[id(bucket)] = bucket

    def metered(self, transport: _Transport) -> MeteredTransport:
        """``transport`` with every request counted and timed (the engine's seam)."""
        return MeteredTransport(transport, self)

    def watch_delivery(self, histogram: Any) -> None:
        """An HdrHistogram of delivery latencies in microseconds (a load test's), read when scraped."""
        self._deliveries.append(histogram)

    def trace_config(self) -> aiohttp.TraceConfig:
        """Counts and times every request of the session it is given to."""
        import aiohttp

        tc = aiohttp.TraceConfig()
        tc.on_request_start.append(self._request_start)
        tc.on_request_end.append(self._request_end)
        tc.on_request_exception.append(self._request_exception)
        return tc

    def observe_request(self, status: int | str, seconds: float | None) -> None:
        """One request answered with ``status`` (or 'error') after ``seconds``."""
        key = str(status)
        child = self._by_status.get(key)
        if child is None:
            child = self._by_status[key] = self.requests.labels(key)
        child.inc()
        if status == 429:
            self.rate_limited.inc()
        if seconds is not None:
            self.request_latency.observe(seconds)

    async def _request_start(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.bulksend_counted = ctx.trace_request_ctx is not UNCOUNTED
        if ctx.bulksend_counted:
            ctx.bulksend_started = _loop_time()
            self.in_flight.inc()

    async def _request_end(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        if ctx.bulksend_counted:
            self.in_flight.dec()
            self.observe_request(params.response.status, _loop_time() - ctx.bulksend_started)

    async def _request_exception(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        if ctx.bulksend_counted:
            self.in_flight.dec()
            self.observe_request("error", None)

    # -- scraping --------------------------------------------------------
    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    def aiohttp_handler(self) -> Handler:
        """A ``GET /metrics`` handler for an ``aiohttp.web`` app."""
        from aiohttp import web

        from prometheus_client import CONTENT_TYPE_LATEST

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=self.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
        return handler


class _Transport(Protocol):
    def send(self, request: Any, timeout: Any) -> Awaitable[Any]: ...


class MeteredTransport:
    """Counts and times each request a transport sends: by status, or ``error``
    when no answer came (the transport raised), with the requests in flight."""

    __slots__ = ("inner", "metrics")

    def __init__(self, inner: _Transport, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def send(self, request: Any, timeout: Any) -> Any:
        metrics = self.metrics
        started = _loop_time()
        metrics.in_flight.inc()
        try:
            response = await self.inner.send(request, timeout)
        except BaseException:
            metrics.observe_request("error", None)
            raise
        finally:
            metrics.in_flight.dec()
        metrics.observe_request(response.status, _loop_time() - started)
        return response


def _loop_time() -> float:
    import asyncio

    return asyncio.get_running_loop().time()


class _EngineCollector:
    """Reads the runs' ``CampaignStats`` and the plans' buckets at scrape time."""

    def __init__(self, runs: list[_Stats], buckets: dict[int, _Bucket], deliveries: list[Any]) -> None:
        self._runs = runs
        self._buckets = buckets
        self._deliveries = deliveries

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily

        runs = list(self._runs)
        recipients = CounterMetricFamily("bulksend_recipients", "recipients by where they ended: accepted, "
                                         "failed, unknown, not_sent, or screened out (invalid, duplicate, "
                                         "excluded)", labels=["outcome"])
        for outcome, attr in OUTCOMES:
            recipients.add_metric([outcome], sum(getattr(s, attr) for s in runs))
        yield recipients
        yield CounterMetricFamily("bulksend_batches", "batches whose request left (retries not counted)",
                                  value=sum(s.batches for s in runs))
        yield CounterMetricFamily("bulksend_retries", "requests sent again after a retryable failure",
                                  value=sum(s.retries for s in runs))
        yield CounterMetricFamily("bulksend_bucket_wait_seconds", "time the pacer waited for the plan's "
                                  "bucket to hold a batch's tokens",
                                  value=sum(b.waited for b in list(self._buckets.values())))
        yield _hdr_family("bulksend_delivery_latency_seconds", "time from a message's acceptance to its "
                          "delivery report (load tests with --delivery)", list(self._deliveries), DELIVERY_BUCKETS)

    def describe(self) -> Iterable[Metric]:
        return []


def _hdr_family(name: str, help_text: str, histograms: list[Any], bounds: Sequence[float]) -> Metric:
    """Prometheus buckets from HdrHistograms of microseconds, counted when scraped (so the
    hot path records into HdrHistogram only)."""
    from prometheus_client.core import HistogramMetricFamily

    cumulative = [0] * len(bounds)
    total = 0
    weighted = 0.0
    for h in histograms:
        for index in range(h.counts_len):
            count = h.counts[index]
            if not count:
                continue
            value = h.get_value_from_index(index) / 1e6
            total += count
            weighted += count * value
            for i, bound in enumerate(bounds):
                if value <= bound:
                    cumulative[i] += count
    buckets = [(repr(float(b)), float(c)) for b, c in zip(bounds, cumulative)] + [("+Inf", float(total))]
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=weighted)


class _CountsCollector:
    """Counters read from a server's own stats at scrape time."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str],
                 read: Callable[[], Mapping[tuple[str, ...], float]]) -> None:
        self._name, self._help, self._labels, self._read = name, help_text, list(labels), read

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(self._name, self._help, labels=self._labels)
        for key, value in self._read().items():
            family.add_metric(list(key), float(value))
        yield family

    def describe(self) -> Iterable[Metric]:
        return []


def counts_handler(name: str, help_text: str, labels: Sequence[str],
                   read: Callable[[], Mapping[tuple[str, ...], float]]) -> Handler:
    """A ``GET /metrics`` handler for a server whose counts live in its own stats
    object (``listen``, the sandbox): one counter family, read when scraped."""
    from aiohttp import web

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(_CountsCollector(name, help_text, labels, read))  # type: ignore[arg-type]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
    return handler


def announce_to_stderr(url: str) -> None:
    import sys

    print(f"bulksend: metrics on {url}", file=sys.stderr, flush=True)


# -- the CLI: one Metrics for the run, served on 127.0.0.1 ---------------------
_current: ContextVar[Metrics | None] = ContextVar("bulksend_metrics", default=None)


def current() -> Metrics | None:
    """The ``Metrics`` made current by ``use``, if any."""
    return _current.get()


@contextlib.contextmanager
def use(metrics: Metrics) -> Iterator[Metrics]:
    token = _current.set(metrics)
    try:
        yield metrics
    finally:
        _current.reset(token)


@dataclass(frozen=True, slots=True)
class MetricsServer:
    metrics: Metrics
    url: str


@contextlib.contextmanager
def serving(port: int | None, host: str = "127.0.0.1",
            announce: Callable[[str], None] | None = None) -> Iterator[MetricsServer | None]:
    """With a port, serve a new current ``Metrics`` on ``http://host:port/metrics`` for the block
    (``announce`` is told the URL)."""
    if port is None:
        yield None
        return
    from prometheus_client import start_http_server

    from bulksend.errors import InputError

    metrics = Metrics()
    try:
        server, thread = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        raise InputError(f"--metrics-port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        url = f"http://{host}:{server.server_address[1]}/metrics"
        if announce is not None:
            announce(url)
        with use(metrics):
            yield MetricsServer(metrics, url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


__all__ = ["Metrics", "MetricsServer", "current", "serving", "use"]
