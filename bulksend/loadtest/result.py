"""A finished load test as values: the summary, the per-second series, and
the first second where the plan saturated or the generator fell behind."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bulksend.loadtest.histogram import Percentiles, distribution, values_at
from bulksend.loadtest.recorder import Recorder, Second
from bulksend.loadtest.saturation import Saturation, generator_behind, plan_saturation
from bulksend.loadtest.search import StepResult
from bulksend.loadtest.spec import LoadSpec


@dataclass(frozen=True, slots=True)
class SecondPoint:
    """One second of the run; rates are per second, latencies in ms (None: no sample)."""

    t: int
    target: int
    sent: int
    requests: int
    parts: int
    accepted: int
    rate_limited: int
    errors: int
    dropped: int
    late: int
    delivered: int
    latency_p50: float | None
    latency_p99: float | None
    service_p50: float | None
    service_p99: float | None
    delivery_p50: float | None
    delivery_p99: float | None


@dataclass(frozen=True, slots=True)
class LoadTestResult:
    plan: str
    start_rate: float
    end_rate: float
    duration: float
    #: seconds of the schedule actually run: ``duration``, or less when stopped early;
    #: the target and achieved rates are over this span
    ran: float
    batch_size: int
    workers: int
    parts_per_message: int
    late_bound_ms: float
    delivery_measured: bool
    # what was due and what went out
    recipients_due: int
    recipients_sent: int
    batches_sent: int
    target_rate: float           # mean recipients/s due
    achieved_rate: float         # recipients/s whose send started within the duration
    achieved_requests_rate: float
    achieved_parts_rate: float
    # answers
    requests: int                # HTTP attempts, retries included
    retries: int
    accepted: int                # recipients
    failed: int                  # recipients
    rate_limited: int            # 429 answers
    dropped: int                 # recipients never sent: the in-flight cap was reached, or the time was up
    late: int                    # recipients sent later than late_bound_ms
    statuses: dict[str, int]
    lateness: Percentiles
    latency: Percentiles         # from intended time
    service_time: Percentiles    # from actual send
    # delivery reports
    delivery_latency: Percentiles | None
    delivered: int
    delivery_failed: dict[str, int]
    undelivered: int             # accepted, no final report by the end of the drain
    delivered_rate: float        # delivered / max(duration, time of last report)
    peak_delivered_rate: int
    seconds: tuple[SecondPoint, ...]
    #: the first second the plan saturated (429s, failures, latency/delivery over bounds)
    saturation: Saturation | None
    #: the first second the generator fell behind (late or dropped sends)
    generator_behind: Saturation | None
    stopped: str
    #: latency distributions for the percentile plot: ``{name: ((percentile, ms), ...)}``
    #: from the whole-run HdrHistograms (not in ``to_dict``: export them with --histogram-log)
    distributions: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    #: the recorder itself, for ``--histogram-log`` (not in ``to_dict``)
    recorder: Recorder | None = field(default=None, compare=False, repr=False)

    @property
    def rate_limited_share(self) -> float:
        """The fraction of requests answered 429."""
        return self.rate_limited / self.requests if self.requests else 0.0

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2") and code != "429")

    def step(self) -> StepResult:
        """The figures ``--find-max`` judges."""
        due = max(1, self.recipients_due)
        return StepResult(
            rate=self.target_rate, achieved=self.achieved_rate, requests=self.requests,
            rate_limited=self.rate_limited, errors=self.errors, dropped_fraction=self.dropped / due,
            latency_p99_ms=self.latency.p99, lateness_p99_ms=self.lateness.p99,
            delivery_p99_ms=self.delivery_latency.p99 if self.delivery_latency else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, distributions={}, recorder=None))
        del out["distributions"], out["recorder"]
        for name in ("lateness", "latency", "service_time"):
            out[name] = getattr(self, name).to_dict()
        out["delivery_latency"] = self.delivery_latency.to_dict() if self.delivery_latency else None
        out["errors"] = self.errors
        return out


def summarize(recorder: Recorder, spec: LoadSpec, workers: int = 1,
              max_latency_p99_ms: float | None = None,
              max_delivery_p99_ms: float | None = None) -> LoadTestResult:
    t, duration, ran = recorder.totals, spec.profile.duration, recorder.ran
    seconds = tuple(_point(i, s) for i, s in enumerate(recorder.seconds))
    delivered_span = max(ran, t.last_delivery)
    return LoadTestResult(
        plan=spec.plan.name, start_rate=spec.profile.start_rate, end_rate=spec.profile.end_rate,
        duration=duration, ran=round(ran, 3), batch_size=spec.batch_size, workers=workers,
        parts_per_message=spec.parts_per_message, late_bound_ms=spec.late_bound * 1000,
        delivery_measured=spec.delivery,
        recipients_due=t.recipients_due, recipients_sent=t.recipients_sent, batches_sent=t.batches_sent,
        target_rate=t.recipients_due / ran, achieved_rate=t.recipients_on_time / ran,
        achieved_requests_rate=t.requests_on_time / ran,
        achieved_parts_rate=t.parts_on_time / ran,
        requests=t.requests, retries=t.retries, accepted=t.accepted, failed=t.failed,
        rate_limited=t.rate_limited, dropped=t.dropped, late=t.late,
        statuses=dict(sorted(recorder.statuses.items())),
        lateness=Percentiles.of(recorder.lateness), latency=Percentiles.of(recorder.latency),
        service_time=Percentiles.of(recorder.service_time),
        delivery_latency=Percentiles.of(recorder.delivery) if spec.delivery else None,
        delivered=t.delivered, delivery_failed=dict(recorder.delivery_failed),
        undelivered=max(0, t.accepted - t.delivered - sum(recorder.delivery_failed.values()))
        if spec.delivery else 0,
        delivered_rate=t.delivered / delivered_span if spec.delivery else 0.0,
        peak_delivered_rate=max((p.delivered for p in seconds), default=0),
        seconds=seconds,
        saturation=plan_saturation(seconds, max_latency_p99_ms, max_delivery_p99_ms),
        generator_behind=generator_behind(seconds, spec.batch_size),
        stopped=recorder.stopped,
        distributions={name: distribution(getattr(recorder, name))
                       for name in ("latency", "service_time", "lateness", "delivery")
                       if name != "delivery" or spec.delivery},
        recorder=recorder,
    )


def _p50_p99(sec: Second, name: str) -> tuple[float | None, float | None]:
    h = getattr(sec, name)
    if h is None or not h.get_total_count():
        return None, None
    at = values_at(h, (50.0, 99.0))
    return at[50.0] / 1000, at[99.0] / 1000


def _point(i: int, s: Second) -> SecondPoint:
    latency, service, delivery = (_p50_p99(s, n) for n in ("latency", "service_time", "delivery"))
    return SecondPoint(
        t=i, target=s.target, sent=s.sent, requests=s.requests, parts=s.parts, accepted=s.accepted,
        rate_limited=s.rate_limited, errors=s.errors, dropped=s.dropped, late=s.late,
        delivered=s.delivered, latency_p50=latency[0], latency_p99=latency[1],
        service_p50=service[0], service_p99=service[1],
        delivery_p50=delivery[0], delivery_p99=delivery[1],
    )
