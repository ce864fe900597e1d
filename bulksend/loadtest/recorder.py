"""What a load test measured: totals, histograms and per-second counters.

The recorder never reads a clock: every call says when its event happened
(on the runner's monotonic clock, the same one the schedule's start is on),
so it is a plain value that tests fill by hand. Four durations are kept:

``lateness``      the send started this long after its intended time
                  (the generator falling behind; wrk2 calls it the
                  coordinated-omission gap)
``latency``       intended time → final answer (what a caller would see)
``service_time``  actual send → answer, per HTTP attempt
``delivery``      batch accepted (2xx received) → delivery report arrived

Seconds are counted from the schedule's start. Worker processes ship their
recorder with ``to_wire`` (plain JSON-able values, histograms encoded) and
the parent adds them up with ``merge``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from bulksend.loadtest import histogram as hist

# Per-second counters; each one is summed when workers merge.
COUNTERS = ("target", "sent", "sent_requests", "requests", "parts", "accepted", "rate_limited",
            "errors", "dropped", "late", "delivered")
# Per-second histograms: latency and delivery by the second the batch was
# due/accepted, service time by the second the attempt left.
SECOND_HISTOGRAMS = ("latency", "service_time", "delivery")
TOTAL_HISTOGRAMS = ("lateness", "latency", "service_time", "delivery")
# A stray clock value must not allocate a list of a million seconds.
MAX_SECONDS = 86_400


@dataclass(slots=True)
class Second:
    """One second of a run. Counts are recipients unless named requests."""

    target: int = 0          # recipients due this second
    sent: int = 0            # recipients whose send started (by actual time)
    sent_requests: int = 0   # first attempts started
    requests: int = 0        # HTTP attempts started, retries included
    parts: int = 0           # SMS parts sent (segments x recipients)
    accepted: int = 0        # recipients accepted (2xx), by answer time
    rate_limited: int = 0    # 429 answers, by answer time
    errors: int = 0          # other failed answers (5xx, 4xx, timeouts, refused)
    dropped: int = 0         # recipients not sent: the in-flight cap was reached, or the time was up
    late: int = 0            # recipients sent later than the lateness bound
    delivered: int = 0       # delivery reports "Delivered", by arrival time
    latency: Any = None
    service_time: Any = None
    delivery: Any = None


@dataclass(slots=True)
class Totals:
    batches_due: int = 0
    recipients_due: int = 0
    batches_sent: int = 0
    recipients_sent: int = 0
    recipients_on_time: int = 0   # send started before the schedule's end
    requests_on_time: int = 0
    parts_on_time: int = 0
    requests: int = 0
    parts: int = 0
    retries: int = 0
    accepted: int = 0             # recipients
    failed: int = 0               # recipients whose batch ended in a non-2xx
    rate_limited: int = 0         # 429 answers
    dropped_batches: int = 0
    dropped: int = 0              # recipients
    late: int = 0                 # recipients sent later than the bound
    delivered: int = 0
    last_send: float = 0.0        # seconds after start of the last send
    last_delivery: float = 0.0
    last_stop: float = 0.0        # seconds after start when sending stopped early (0: it did not)


@dataclass(slots=True)
class Recorder:
    """Counts and latencies of one run (or of several workers, merged)."""

    start: float
    duration: float
    late_bound: float = 0.005
    totals: Totals = field(default_factory=Totals)
    statuses: Counter[str] = field(default_factory=Counter)
    delivery_failed: Counter[str] = field(default_factory=Counter)
    seconds: list[Second] = field(default_factory=list)
    lateness: Any = field(default_factory=hist.new_histogram)
    latency: Any = field(default_factory=hist.new_histogram)
    service_time: Any = field(default_factory=hist.new_histogram)
    delivery: Any = field(default_factory=hist.new_histogram)
    stopped: str = ""

    def second(self, at: float) -> Second:
        """The counters of the second holding clock time ``at``."""
        index = min(MAX_SECONDS, max(0, int(at - self.start)))
        while len(self.seconds) <= index:
            self.seconds.append(Second())
        return self.seconds[index]

    # -- the schedule ------------------------------------------------------

    def due(self, due: float, recipients: int) -> None:
        self.totals.batches_due += 1
        self.totals.recipients_due += recipients
        self.second(due).target += recipients

    def dropped(self, due: float, recipients: int) -> None:
        self.totals.dropped_batches += 1
        self.totals.dropped += recipients
        self.second(due).dropped += recipients

    def dropped_at_end(self, per_second: list[int], recipients: int) -> None:
        """Batches of ``recipients`` each, still to start when the run's time was up
        (``per_second[s]`` of them due in second ``s``): due, and dropped, never sent."""
        for s, batches in enumerate(per_second):
            if batches:
                self.totals.batches_due += batches
                self.totals.recipients_due += batches * recipients
                self.totals.dropped_batches += batches
                self.totals.dropped += batches * recipients
                sec = self.second(self.start + s)
                sec.target += batches * recipients
                sec.dropped += batches * recipients

    def started(self, due: float, now: float, recipients: int, parts: int) -> None:
        """A batch's first attempt leaves at ``now``; it was due at ``due``."""
        t = self.totals
        t.batches_sent += 1
        t.recipients_sent += recipients
        t.last_send = max(t.last_send, now - self.start)
        if now < self.start + self.duration:
            t.recipients_on_time += recipients
            t.requests_on_time += 1
            t.parts_on_time += parts
        hist.record_seconds(self.lateness, now - due)
        sec = self.second(now)
        sec.sent += recipients
        sec.sent_requests += 1
        sec.parts += parts
        if now - due > self.late_bound:
            t.late += recipients
            self.second(due).late += recipients

    # -- answers -----------------------------------------------------------

    def attempt(self, sent_at: float, now: float, status: str, parts: int) -> None:
        """One HTTP attempt that left at ``sent_at`` ended at ``now`` with ``status``
        (an HTTP status code, or ``timeout``/``disconnected``/``connect`` ...)."""
        self.totals.requests += 1
        self.totals.parts += parts
        self.statuses[status] += 1
        self.second(sent_at).requests += 1
        sec = self.second(now)
        if status == "429":
            self.totals.rate_limited += 1
            sec.rate_limited += 1
        elif not status.startswith("2"):
            sec.errors += 1
        hist.record_seconds(self.service_time, now - sent_at)
        _record_in(self.second(sent_at), "service_time", now - sent_at)

    def stopped_early(self, now: float) -> None:
        """Sending stopped at ``now``, before the schedule's end (see ``ran``)."""
        at = now - self.start
        if 0 <= at < self.duration:
            self.totals.last_stop = max(self.totals.last_stop, at)

    @property
    def ran(self) -> float:
        """Seconds of the schedule actually run: the duration, or less if stopped early.

        Rates are this span's: a run stopped 5 s into 20 at 400/s had 2,000
        recipients due, which is 400/s over what ran, not 100/s over 20 s."""
        t = self.totals
        return t.last_stop if self.stopped and t.last_stop > 0 else self.duration

    def retried(self) -> None:
        self.totals.retries += 1

    def finished(self, due: float, now: float, accepted: int, failed: int) -> None:
        """A batch got its final answer at ``now``: so many recipients taken, so many not."""
        hist.record_seconds(self.latency, now - due)
        _record_in(self.second(due), "latency", now - due)
        self.totals.accepted += accepted
        self.totals.failed += failed
        if accepted:
            self.second(now).accepted += accepted

    # -- delivery reports ---------------------------------------------------

    def delivered(self, accepted_at: float, now: float, count: int = 1) -> None:
        self.totals.delivered += count
        self.totals.last_delivery = max(self.totals.last_delivery, now - self.start)
        self.second(now).delivered += count
        for _ in range(count):
            hist.record_seconds(self.delivery, now - accepted_at)
            _record_in(self.second(accepted_at), "delivery", now - accepted_at)

    def delivery_failure(self, status: str, count: int = 1) -> None:
        self.delivery_failed[status] += count

    # -- across processes ----------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """Plain values (histograms encoded) a worker sends to its parent."""
        return {
            "start": self.start, "duration": self.duration, "late_bound": self.late_bound,
            "totals": {f.name: getattr(self.totals, f.name) for f in fields(Totals)},
            "statuses": dict(self.statuses), "delivery_failed": dict(self.delivery_failed),
            "histograms": {name: hist.encode(getattr(self, name)) for name in TOTAL_HISTOGRAMS},
            "seconds": [_second_to_wire(s) for s in self.seconds],
            "stopped": self.stopped,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Recorder:
        rec = cls(data["start"], data["duration"], data["late_bound"])
        rec.totals = Totals(**data["totals"])
        rec.statuses = Counter(data["statuses"])
        rec.delivery_failed = Counter(data["delivery_failed"])
        for name in TOTAL_HISTOGRAMS:
            setattr(rec, name, hist.decode(data["histograms"][name]))
        rec.seconds = [_second_from_wire(s) for s in data["seconds"]]
        rec.stopped = data["stopped"]
        return rec

    def merge(self, other: Recorder) -> None:
        """Add ``other`` (another worker on the same start time) into this one."""
        for f in fields(Totals):
            mine, theirs = getattr(self.totals, f.name), getattr(other.totals, f.name)
            combined = max(mine, theirs) if f.name.startswith("last_") else mine + theirs
            setattr(self.totals, f.name, combined)
        self.statuses.update(other.statuses)
        self.delivery_failed.update(other.delivery_failed)
        for name in TOTAL_HISTOGRAMS:
            getattr(self, name).add(getattr(other, name))
        if other.seconds:
            self.second(self.start + len(other.seconds) - 1)
        for mine_s, theirs_s in zip(self.seconds, other.seconds):
            for name in COUNTERS:
                setattr(mine_s, name, getattr(mine_s, name) + getattr(theirs_s, name))
            for name in SECOND_HISTOGRAMS:
                theirs_h = getattr(theirs_s, name)
                if theirs_h is not None:
                    setattr(mine_s, name, hist.merged(getattr(mine_s, name), theirs_h))
        self.stopped = self.stopped or other.stopped


def _record_in(sec: Second, name: str, seconds: float) -> None:
    h = getattr(sec, name)
    if h is None:
        h = hist.new_histogram(hist.COARSE)
        setattr(sec, name, h)
    hist.record_seconds(h, seconds)


def _second_to_wire(sec: Second) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(sec, name) for name in COUNTERS}
    for name in SECOND_HISTOGRAMS:
        h = getattr(sec, name)
        if h is not None:
            out[name] = hist.encode(h)
    return out


def _second_from_wire(data: dict[str, Any]) -> Second:
    sec = Second(**{name: data[name] for name in COUNTERS})
    for name in SECOND_HISTOGRAMS:
        if name in data:
            setattr(sec, name, hist.decode(data[name]))
    return sec
