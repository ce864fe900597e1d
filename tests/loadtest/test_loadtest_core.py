"""The load tester's pure parts: schedule math, find-max policy, recorder
merging, percentiles, delivery bookkeeping, report and summary text.
Tables of values; nothing here sleeps or opens a socket."""

from __future__ import annotations

import math
import random

import pytest
from hdrh.histogram import HdrHistogram

from bulksend.providers import parse_config
from bulksend.errors import InputError
from bulksend.loadtest import (
    Bounds,
    FindMaxResult,
    FindMaxStep,
    LoadSpec,
    RateProfile,
    Recorder,
    Schedule,
    SearchPolicy,
    StepResult,
    format_find_max,
    format_result,
    judge,
    parse_ramp,
    rate_profile,
    render_find_max,
    render_result,
    summarize,
)
from bulksend.loadtest.result import SecondPoint
from bulksend.loadtest.delivery import DeliveryTracker
from bulksend.loadtest.histogram import Percentiles, mean_of, new_histogram, record_seconds, values_at
from bulksend.loadtest.saturation import generator_behind, plan_saturation
from bulksend.loadtest.search import bracket
from bulksend.loadtest.svg import Line, Marker, chart, nice_step


def plan(url: str = "http://127.0.0.1:9", **extra: object) -> object:
    table = {"provider": "sinch_xms", "service_plan_id": "p1", "base_url": url, "rate": 1000,
             "max_batch": 100, **extra}
    return parse_config({"plans": {"demo": table}}).plan("demo")


# -- the schedule -------------------------------------------------------------

@pytest.mark.parametrize("rate, batch, k, expected", [
    (1000, 1, 0, 0.0),
    (1000, 1, 1, 0.001),
    (1000, 1, 500, 0.5),
    (1000, 10, 3, 0.03),
    (250, 5, 7, 0.14),
    (0.5, 1, 3, 6.0),
])
def test_constant_rate_due_times(rate: float, batch: int, k: int, expected: float) -> None:
    schedule = Schedule(RateProfile.constant(rate, 10), batch)
    assert schedule.due(k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("start, end, duration, n", [
    (100, 1100, 10, 0), (100, 1100, 10, 1), (100, 1100, 10, 2500), (100, 1100, 10, 6000),
    (0, 2000, 4, 1), (0, 2000, 4, 4000), (1000, 0, 2, 999), (1000, 0, 2, 1000),
    (5000, 10, 3, 7000),
])
def test_ramp_time_of_inverts_the_integral(start: float, end: float, duration: float, n: float) -> None:
    profile = RateProfile(start, end, duration)
    t = profile.time_of(n)
    assert 0 <= t <= duration + 1e-9
    assert profile.due_by(t) == pytest.approx(n, rel=1e-9, abs=1e-9)


def test_ramp_table() -> None:
    # r(t) = 100 + 100 t over 10 s: N(t) = 100 t + 50 t², total 6000.
    profile = RateProfile(100, 1100, 10)
    assert profile.total == 6000
    assert profile.rate_at(5) == 600
    for n, t in [(150, 1.0), (400, 2.0), (6000, 10.0)]:
        assert profile.time_of(n) == pytest.approx(t)
    # 50t² + 100t - 1550 = 0 -> t = -1 + sqrt(1 + 31)
    assert profile.time_of(1550) == pytest.approx(-1 + math.sqrt(32))


def test_ramp_from_zero_and_down_to_zero() -> None:
    up = RateProfile(0, 1000, 2)          # N(t) = 250 t²
    assert up.time_of(250) == pytest.approx(1.0)
    assert up.time_of(1000) == pytest.approx(2.0)
    down = RateProfile(1000, 0, 2)        # N(t) = 1000 t - 250 t²
    assert down.time_of(750) == pytest.approx(1.0)
    assert down.time_of(1000) == pytest.approx(2.0)  # the last recipient, where the rate reaches 0


def test_batch_count_and_per_second_targets() -> None:
    assert Schedule(RateProfile.constant(1000, 2), 1).batches == 2000
    assert Schedule(RateProfile.constant(1000, 2), 3).batches == 667       # 666.67 rounded up
    assert Schedule(RateProfile.constant(0.1, 5), 1).batches == 1          # at least one
    ramp = Schedule(RateProfile(0, 1000, 4), 1)
    per_second = ramp.due_per_second()
    assert sum(per_second) == ramp.recipients == 2000
    # N(1)=125, N(2)=500, N(3)=1125, N(4)=2000: 125, 375, 625, 875 per second
    assert per_second == [125, 375, 625, 875]


def test_floating_point_total_does_not_add_a_batch() -> None:
    profile = RateProfile.constant(0.1 + 0.2, 10)  # 3.0000000000000004 recipients: 3 batches
    assert Schedule(profile, 1).batches == 3
    assert Schedule(RateProfile.constant(1000 / 3, 3), 1).batches == 1000


def test_workers_split_the_one_schedule_round_robin() -> None:
    schedule = Schedule(RateProfile.constant(1000, 1), 1)
    parts = [list(schedule.owned_by(i, 3)) for i in range(3)]
    assert sorted(k for part in parts for k in part) == list(range(1000))
    assert parts[1][:3] == [1, 4, 7]
    # each worker runs at a third of the rate, phases staggered by one batch
    assert schedule.due(parts[1][1]) - schedule.due(parts[1][0]) == pytest.approx(0.003)
    with pytest.raises(ValueError):
        schedule.owned_by(3, 3)


@pytest.mark.parametrize("bad", [dict(start_rate=0, end_rate=0), dict(start_rate=-1, end_rate=5),
                                 dict(duration=0)])
def test_profile_refuses_nonsense(bad: dict[str, float]) -> None:
    args = {"start_rate": 10.0, "end_rate": 10.0, "duration": 1.0, **bad}
    with pytest.raises(ValueError):
        RateProfile(**args)


@pytest.mark.parametrize("text, expected", [("100:2000", (100.0, 2000.0)), ("0:5", (0.0, 5.0)),
                                            ("300:10", (300.0, 10.0))])
def test_parse_ramp(text: str, expected: tuple[float, float]) -> None:
    assert parse_ramp(text) == expected


@pytest.mark.parametrize("text", ["100", "a:b", "0:0", "-1:5", ""])
def test_parse_ramp_errors_name_the_value(text: str) -> None:
    with pytest.raises(InputError, match="--ramp"):
        parse_ramp(text)


def test_rate_profile_needs_a_rate_or_a_ramp() -> None:
    assert rate_profile(500, None, 2) == RateProfile(500, 500, 2)
    assert rate_profile(None, "1:9", 2) == RateProfile(1, 9, 2)
    with pytest.raises(InputError, match="--rate"):
        rate_profile(None, None, 2)
    with pytest.raises(InputError, match="--duration"):
        rate_profile(5, None, 0)


# -- the spec ------------------------------------------------------------------

def test_generated_numbers_never_go_to_a_real_provider() -> None:
    real = plan("https://us.sms.api.sinch.com", token_env="X")
    with pytest.raises(InputError, match="--recipients"):
        LoadSpec(real, RateProfile.constant(10, 1))  # type: ignore[arg-type]
    LoadSpec(real, RateProfile.constant(10, 1), recipients=("46701234567",))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="--delivery"):
        LoadSpec(real, RateProfile.constant(10, 1), recipients=("46701234567",),  # type: ignore[arg-type]
                 delivery=True)


def test_spec_checks_its_values() -> None:
    p = plan()
    with pytest.raises(InputError, match="max_batch"):
        LoadSpec(p, RateProfile.constant(10, 1), batch_size=101)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="--max-in-flight"):
        LoadSpec(p, RateProfile.constant(10, 1), max_in_flight=0)  # type: ignore[arg-type]
    spec = LoadSpec(p, RateProfile.constant(10, 3))  # type: ignore[arg-type]
    assert spec.at_rate(77).profile == RateProfile(77, 77, 3)
    assert spec.parts_per_message == 1


# -- find-max: judging a step and choosing the next rate ----------------------

def step(rate: float, **kw: float) -> StepResult:
    base: dict[str, float] = dict(rate=rate, achieved=rate, requests=1000, rate_limited=0, errors=0,
                                  dropped_fraction=0.0, latency_p99_ms=3.0, lateness_p99_ms=1.0)
    base.update(kw)
    return StepResult(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("kw, ok, whose", [
    ({}, True, ""),
    ({"rate_limited": 10}, True, ""),                  # 1% is allowed
    ({"rate_limited": 11}, False, "plan"),
    ({"errors": 50}, False, "plan"),
    ({"latency_p99_ms": 250.0}, False, "plan"),         # bound 200 ms
    ({"lateness_p99_ms": 6.0}, False, "generator"),
    ({"achieved": 980.0}, False, "generator"),
    ({"dropped_fraction": 0.001}, False, "generator"),
    ({"rate_limited": 500, "lateness_p99_ms": 9.0}, False, "plan"),  # the plan's limit wins a tie
])
def test_judge(kw: dict[str, float], ok: bool, whose: str) -> None:
    verdict = judge(step(1000, **kw), Bounds(max_latency_p99_ms=200))
    assert (verdict.ok, verdict.limited_by) == (ok, whose)
    assert bool(verdict.reasons) is not ok


def test_judge_delivery_bound_only_when_measured() -> None:
    bounds = Bounds(max_delivery_p99_ms=1000)
    assert judge(step(100, delivery_p99_ms=None), bounds).ok  # type: ignore[arg-type]
    assert not judge(step(100, delivery_p99_ms=1500.0), bounds).ok


def run_search(policy: SearchPolicy, limit: float) -> list[tuple[float, bool]]:
    """Drive the policy against a fake plan that passes exactly up to ``limit``."""
    history: list[tuple[float, bool]] = []
    while (rate := policy.next_rate(history)) is not None:
        history.append((rate, rate <= limit))
    return history


def test_search_rises_geometrically_then_bisects() -> None:
    history = run_search(SearchPolicy(start=100, factor=2, precision=0.05), limit=1000)
    rates = [round(r) for r, _ in history]
    assert rates[:5] == [100, 200, 400, 800, 1600]
    good, bad = bracket(history)
    assert good is not None and bad is not None
    assert good <= 1000 < bad and (bad - good) / good <= 0.05
    assert len(history) <= 12


@pytest.mark.parametrize("limit", [37.0, 999.0, 1000.0, 4321.0, 20000.0])
def test_search_converges_to_the_limit(limit: float) -> None:
    history = run_search(SearchPolicy(start=500, precision=0.02, max_steps=30), limit)
    good, _bad = bracket(history)
    assert good is not None and limit * 0.98 <= good <= limit


def test_search_goes_down_when_the_first_step_fails() -> None:
    history = run_search(SearchPolicy(start=1000, factor=2, precision=0.1), limit=300)
    assert [r for r, _ in history][:3] == [1000, 500, 250]
    good, _ = bracket(history)
    assert good is not None and 270 <= good <= 300


def test_search_stops_at_its_caps() -> None:
    capped = run_search(SearchPolicy(start=100, max_rate=350), limit=10_000)
    assert [r for r, _ in capped] == [100, 200, 350]
    assert len(run_search(SearchPolicy(start=1, factor=1.01, max_steps=4), limit=1e9)) == 4
    nothing = run_search(SearchPolicy(start=8, factor=2, min_rate=1), limit=0.5)
    assert [r for r, _ in nothing] == [8, 4, 2, 1]


def test_bracket_ignores_a_noisy_failure_below_a_pass() -> None:
    assert bracket([(100, True), (200, False), (150, True), (120, False)]) == (150, 200)
    assert bracket([(100, False)]) == (None, 100)
    assert bracket([(100, True)]) == (100, None)


# -- histograms, recorder, merge --------------------------------------------------

def test_values_at_matches_hdrhistogram() -> None:
    rng = random.Random(3)
    for figures in (2, 3):
        h = new_histogram(figures)
        for _ in range(3000):
            record_seconds(h, rng.expovariate(50))
        wanted = [50.0, 90.0, 99.0, 99.9, 100.0]
        assert values_at(h, wanted) == {p: h.get_value_at_percentile(p) for p in wanted}
        assert mean_of(h) == pytest.approx(h.get_mean_value())
    assert values_at(new_histogram(), [50.0]) == {50.0: 0}


def test_record_seconds_clamps() -> None:
    h = new_histogram()
    record_seconds(h, -1.0)
    record_seconds(h, 10_000.0)  # beyond one hour
    assert h.get_total_count() == 2
    assert h.get_min_value() == 0 and h.get_max_value() >= 3_600_000_000 * 0.999


def fill(recorder: Recorder, offset: int, count: int, latency: float) -> None:
    start = recorder.start
    for i in range(count):
        due = start + (offset + 2 * i) / 1000
        recorder.due(due, 1)
        recorder.started(due, due + 0.0005, 1, 2)
        recorder.attempt(due + 0.0005, due + latency, "201", 2)
        recorder.finished(due, due + latency, 1, 0)


def test_recorder_counts_one_run() -> None:
    rec = Recorder(start=100.0, duration=2.0, late_bound=0.005)
    rec.due(100.0, 5)
    rec.dropped(100.0, 5)
    rec.due(100.5, 5)
    rec.started(100.5, 100.51, 5, 10)   # 10 ms late
    rec.attempt(100.51, 100.52, "429", 10)
    rec.retried()
    rec.attempt(100.6, 100.61, "201", 10)
    rec.finished(100.5, 100.61, 5, 0)
    rec.due(101.9, 5)
    rec.started(101.9, 102.1, 5, 10)    # started after the end: not on time
    rec.attempt(102.1, 102.2, "timeout", 10)
    rec.finished(101.9, 102.2, 0, 5)
    t = rec.totals
    assert (t.recipients_due, t.dropped, t.recipients_sent, t.recipients_on_time) == (15, 5, 10, 5)
    assert (t.requests, t.retries, t.rate_limited, t.accepted, t.failed, t.late) == (3, 1, 1, 5, 5, 10)
    assert dict(rec.statuses) == {"429": 1, "201": 1, "timeout": 1}
    assert [s.target for s in rec.seconds] == [10, 5, 0]
    assert [s.rate_limited for s in rec.seconds] == [1, 0, 0]
    assert [s.errors for s in rec.seconds] == [0, 0, 1]  # a 429 is not an "error"
    assert rec.seconds[0].late == 5 and rec.seconds[1].late == 5
    assert Percentiles.of(rec.lateness).max == pytest.approx(200, rel=0.01)


def test_workers_merge_through_the_wire_form() -> None:
    a, b = Recorder(50.0, 2.0), Recorder(50.0, 2.0)
    fill(a, 0, 1000, 0.010)     # 1000 sends, 10 ms each
    fill(b, 1, 1000, 0.030)     # 1000 more, 30 ms each, interleaved
    b.delivered(50.2, 51.2)
    b.delivery_failure("Expired")
    merged = Recorder.from_wire(a.to_wire())
    merged.merge(Recorder.from_wire(b.to_wire()))
    t = merged.totals
    assert (t.recipients_due, t.recipients_sent, t.accepted, t.requests, t.parts) == (2000, 2000, 2000, 2000, 4000)
    assert t.delivered == 1 and dict(merged.delivery_failed) == {"Expired": 1}
    lat = Percentiles.of(merged.latency)
    assert lat.count == 2000
    assert lat.p50 == pytest.approx(10, rel=0.01) and lat.p90 == pytest.approx(30, rel=0.01)
    assert [s.sent for s in merged.seconds][:2] == [1000, 1000]
    second0 = merged.seconds[0].latency
    assert second0.get_total_count() == 1000   # both workers' batches due in second 0
    assert Percentiles.of(merged.delivery).p50 == pytest.approx(1000, rel=0.01)
    # the wire form is plain data
    import json
    json.dumps(a.to_wire())


def test_merge_of_unequal_lengths_and_stop_reason() -> None:
    a, b = Recorder(0.0, 1.0), Recorder(0.0, 1.0)
    fill(a, 0, 10, 0.001)
    b.due(3.5, 1)
    b.stopped = "the provider refused the test"
    a.merge(b)
    assert len(a.seconds) == 4 and a.seconds[3].target == 1 and a.stopped == b.stopped


# -- delivery bookkeeping -----------------------------------------------------------

def test_delivery_tracker_matches_reports_to_acceptances() -> None:
    rec = Recorder(0.0, 1.0)
    tracker = DeliveryTracker(rec)
    tracker.batch_accepted("b1", 0.10, 3)
    tracker.report("b1", "Dispatched", 0.2)    # not final: ignored, still outstanding
    tracker.report("b1", "Delivered", 0.60)
    tracker.report("b1", "Failed", 0.70)
    assert tracker.outstanding == 1
    # a report for a batch whose 201 has not been read yet waits, then counts from the acceptance
    tracker.report("b2", "Delivered", 0.30)
    tracker.batch_accepted("b2", 0.35, 1)
    tracker.report("b1", "Delivered", 0.90)
    tracker.report("b1", "Delivered", 0.95)    # a repeat beyond the batch: ignored
    tracker.report("zz", "Delivered", 1.0)     # never accepted
    tracker.finish()
    assert tracker.outstanding == 0 and tracker.ignored == 2
    assert rec.totals.delivered == 3 and dict(rec.delivery_failed) == {"Failed": 1}
    p = Percentiles.of(rec.delivery)
    assert p.count == 3 and p.max == pytest.approx(800, rel=0.01) and p.p50 == pytest.approx(500, rel=0.01)
    assert rec.seconds[0].delivered == 3


def test_take_report_accepts_one_or_a_list_and_ignores_others() -> None:
    tracker = DeliveryTracker(Recorder(0.0, 1.0))
    tracker.batch_accepted("b", 0.0, 2)
    report = {"type": "recipient_delivery_report_sms", "batch_id": "b", "recipient": "4670",
              "code": 0, "status": "Delivered", "at": "2024-01-01T00:00:00.000Z"}
    tracker.take_report(report, 0.5)
    tracker.take_report([report, {"type": "delivery_report_sms"}, "junk"], 0.6)
    assert tracker.outstanding == 0 and tracker.ignored == 2


# -- results, saturation, text and HTML ---------------------------------------------

def synthetic_result(with_429_from: int | None = 3, delivery: bool = True) -> object:
    spec = LoadSpec(plan(), RateProfile(100, 600, 6), delivery=delivery)  # type: ignore[arg-type]
    rec = Recorder(0.0, 6.0)
    schedule = spec.schedule
    tracker = DeliveryTracker(rec)
    for k in range(schedule.batches):
        due = schedule.due(k)
        rec.due(due, 1)
        rec.started(due, due + 0.0004, 1, 1)
        limited = with_429_from is not None and due >= with_429_from and k % 3 == 0
        rec.attempt(due + 0.0004, due + 0.004, "429" if limited else "201", 1)
        rec.finished(due, due + 0.004, 0 if limited else 1, 1 if limited else 0)
        if not limited:
            tracker.batch_accepted(f"b{k}", due + 0.004, 1)
            tracker.report(f"b{k}", "Delivered", due + 0.25)
    return summarize(rec, spec)


def test_summarize_and_saturation() -> None:
    r = synthetic_result()
    assert r.recipients_due == 2100 and r.target_rate == pytest.approx(350)  # type: ignore[attr-defined]
    assert r.saturation is not None and r.saturation.second == 3  # type: ignore[attr-defined]
    assert "429" in r.saturation.reason  # type: ignore[attr-defined]
    assert r.delivered == r.accepted and r.undelivered == 0  # type: ignore[attr-defined]
    assert r.delivery_latency.p50 == pytest.approx(246, rel=0.02)  # type: ignore[attr-defined]
    clean = synthetic_result(None)
    assert clean.saturation is None  # type: ignore[attr-defined]
    d = clean.to_dict()  # type: ignore[attr-defined]
    assert d["latency"]["p99.9"] >= d["latency"]["p50"] > 0
    # N(1) = 100 + 500/12 = 141.7; reports arriving after the end make a 7th second
    assert len(d["seconds"]) == 7 and d["seconds"][0]["target"] == 142
    assert sum(s["target"] for s in d["seconds"]) == 2100


def test_plan_saturation_by_latency_bound() -> None:
    r = synthetic_result(None, delivery=False)
    assert plan_saturation(r.seconds, max_latency_p99_ms=1.0) is not None  # type: ignore[attr-defined]
    assert plan_saturation(r.seconds, max_latency_p99_ms=100.0) is None  # type: ignore[attr-defined]


def point(t: int, **kw: object) -> SecondPoint:
    base: dict[str, object] = dict(t=t, target=100, sent=100, requests=100, parts=100, accepted=100,
                                   rate_limited=0, errors=0, dropped=0, late=0, delivered=100,
                                   latency_p50=1.0, latency_p99=2.0, service_p50=1.0, service_p99=2.0,
                                   delivery_p50=None, delivery_p99=None)
    base.update(kw)
    return SecondPoint(**base)  # type: ignore[arg-type]


def test_plan_saturation_by_a_delivery_backlog() -> None:
    steady = [point(t, delivery_p50=30.0, delivery_p99=40.0) for t in range(4)]
    growing = [point(4, delivery_p50=90.0), point(5, delivery_p50=140.0), point(6, delivery_p50=900.0)]
    found = plan_saturation(steady + growing)
    assert found is not None and found.second == 5 and "backing up" in found.reason  # 140 > 4 x 30, +100
    assert plan_saturation(steady) is None
    assert plan_saturation(steady, max_delivery_p99_ms=35.0) is not None
    slow_but_steady = [point(t, delivery_p50=1000.0 + 50 * (t % 2)) for t in range(8)]
    assert plan_saturation(slow_but_steady) is None


@pytest.mark.parametrize("seconds, batch, expected", [
    ([point(0), point(1, late=4)], 1, None),          # 4% of the second late: noise
    ([point(0), point(1, late=6)], 1, 1),
    ([point(0, late=20)], 10, None),                  # two batches of ten: one stall
    ([point(0, late=30)], 10, 0),
    ([point(0), point(1, dropped=1)], 1, 1),
])
def test_generator_behind(seconds: list[SecondPoint], batch: int, expected: int | None) -> None:
    found = generator_behind(seconds, batch)
    assert (found.second if found else None) == expected


def test_terminal_summary_names_every_figure() -> None:
    text = format_result(synthetic_result())  # type: ignore[arg-type]
    for needle in ("ramp 100 → 600 recipients/s", "recipients/s", "requests/s", "parts/s",
                   "201: ", "429: ", "from intended time", "from actual send", "send lateness",
                   "accepted → delivered", "saturation  from second 3"):
        assert needle in text


def test_html_report_is_self_contained_with_the_plots() -> None:
    html = render_result(synthetic_result())  # type: ignore[arg-type]
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 6  # four over time, two percentile distributions
    for title in ("Rate: target vs achieved", "HTTP latency per second", "429s, failures",
                  "Delivery latency", "saturated: ", "p99 from intended", "delivered",
                  "Latency by percentile", "Delivery latency by percentile"):
        assert title in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert "<script" not in html


def test_find_max_text_and_report() -> None:
    ok, bad = synthetic_result(None, delivery=False), synthetic_result(2, delivery=False)
    bounds = Bounds()
    steps = (FindMaxStep(350, judge(ok.step(), bounds), ok),  # type: ignore[attr-defined,arg-type]
             FindMaxStep(700, judge(bad.step(), bounds), bad))  # type: ignore[attr-defined,arg-type]
    found = FindMaxResult(350, 700, steps[1].verdict.limited_by, steps[1].verdict.reasons, steps,
                          bounds, SearchPolicy(start=350))
    text = format_find_max(found)
    assert "highest sustainable rate 350.0" in text and "the plan's limit" in text
    html = render_find_max(found)
    assert html.count("<svg") == 4 and "Highest sustainable rate: 350.0" in html
    assert "Latency from intended time by percentile, per step" in html
    assert "700/s fail" in html and "350/s ok" in html
    assert found.to_dict()["steps"][1]["ok"] is False


def test_svg_chart_scales_and_gaps() -> None:
    assert [nice_step(s) for s in (10, 7, 1234, 0.3)] == [2, 2, 500, 0.1]
    svg = chart("t", [Line("a", [(0, 1.0), (1, None), (2, 3.0), (3, 4.0)]),
                      Line("b", [(0, 0.5), (3, 1000.0)], dash="4 2")],
                y_label="ms", log_y=True, markers=[Marker(2, "here")])
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 1   # the gap splits line a
    assert ">1,000<" in svg and ">0.1<" in svg and "here" in svg
    empty = chart("nothing", [Line("a", [])], y_label="x")
    assert "no data" in empty


def test_empty_histogram_percentiles() -> None:
    assert Percentiles.of(HdrHistogram(1, 1000, 2)).count == 0
