"""Issue 19 item 6: what the load-test report and summary say (pure values, no sockets)."""

from __future__ import annotations

import pytest

from bulksend.providers import parse_config
from bulksend.loadtest import (
    LoadSpec,
    RateProfile,
    Recorder,
    format_result,
    render_result,
    summarize,
)
from bulksend.loadtest.histogram import distribution, new_histogram, record_seconds
from bulksend.loadtest.report import distribution_chart, headline_rates
from bulksend.loadtest.svg import Line, chart

PLAN = parse_config({"plans": {"demo": {"provider": "sinch_xms", "service_plan_id": "p",
                                         "base_url": "http://127.0.0.1:9", "rate": 1000, "burst": 100,
                                         "max_batch": 10}}}, "<t>").plan("demo")


def run_of(rate: int, duration: float, ran: float, stopped: str = "", status: str = "201",
           rate_limited_every: int = 0) -> Recorder:
    """A recorder filled by hand: ``rate`` batches of one a second for ``ran`` seconds."""
    rec = Recorder(0.0, duration)
    for i in range(int(rate * ran)):
        due = i / rate
        rec.due(due, 1)
        rec.started(due, due, 1, 1)
        answer = "429" if rate_limited_every and i % rate_limited_every == 0 else status
        rec.attempt(due, due + 0.002, answer, 1)
        rec.finished(due, due + 0.002, int(answer.startswith("2")), int(not answer.startswith("2")))
    if stopped:
        rec.stopped = stopped
        rec.stopped_early(ran)
    return rec


def test_a_run_stopped_early_reports_its_rate_over_what_ran() -> None:
    spec = LoadSpec(PLAN, RateProfile.constant(400, 20.0))
    result = summarize(run_of(400, 20.0, 5.0, stopped="interrupted"), spec)
    assert result.recipients_due == 2000 and result.ran == 5.0
    assert result.target_rate == 400 and result.achieved_rate == 400  # not 2000 / 20 = 100
    assert "stopped after 5.0 s" in format_result(result)


def test_a_full_run_keeps_its_duration() -> None:
    spec = LoadSpec(PLAN, RateProfile.constant(100, 3.0))
    result = summarize(run_of(100, 3.0, 3.0), spec)
    assert result.ran == 3.0 and result.target_rate == pytest.approx(100)
    assert "stopped after" not in format_result(result)


def test_stopped_early_ignores_times_outside_the_schedule() -> None:
    rec = Recorder(10.0, 5.0)
    rec.stopped = "interrupted"
    rec.stopped_early(9.0)   # before the start
    rec.stopped_early(16.0)  # after the end
    assert rec.ran == 5.0
    rec.stopped_early(12.5)
    assert rec.ran == 2.5


# -- the HTML report ---------------------------------------------------------


def test_headline_states_the_429_share() -> None:
    spec = LoadSpec(PLAN, RateProfile.constant(100, 4.0))
    result = summarize(run_of(100, 4.0, 4.0, rate_limited_every=4), spec)
    assert result.rate_limited == 100 and result.requests == 400
    head = headline_rates(result)
    assert "25.0% of requests (100 of 400) were answered 429" in head
    assert "Sent 100.0 of 100.0 recipients/s; accepted 75.0/s" in head
    assert head in render_result(result).replace("&#x27;", "'")
    clean = summarize(run_of(100, 4.0, 4.0), LoadSpec(PLAN, RateProfile.constant(100, 4.0)))
    assert "No request was answered 429" in headline_rates(clean)


def test_target_sent_and_accepted_are_drawn_apart() -> None:
    spec = LoadSpec(PLAN, RateProfile.constant(100, 3.0))
    html = render_result(summarize(run_of(100, 3.0, 3.0), spec))
    rates = html.split("<svg")[1]
    # a target met exactly: same values, three styles (a pale band, a solid line, dashes with dots)
    assert 'stroke="#7f7f7f" stroke-width="9"' in rates and 'stroke-opacity="0.35"' in rates
    assert 'stroke="#1f77b4" stroke-width="2" stroke-linejoin' in rates
    assert 'stroke="#2ca02c" stroke-width="2" stroke-dasharray="6 4"' in rates
    assert rates.count('fill="#2ca02c"') >= 3  # accepted's dots, one per second (and the legend's)


def test_counts_are_steps_and_the_last_partial_second_counts_at_its_rate() -> None:
    spec = LoadSpec(PLAN, RateProfile.constant(100, 2.5))
    html = render_result(summarize(run_of(100, 2.5, 2.5), spec))
    rates = html.split("<svg")[1]
    target = next(line for line in rates.splitlines() if 'stroke="#7f7f7f" stroke-width="9"' in line)
    ys = {pt.split(",")[1] for pt in target.split('points="')[1].split('"')[0].split()}
    assert len(ys) == 1  # 100, 100, then 50 in half a second = 100/s: one level, no collapse
    xs = [float(pt.split(",")[0]) for pt in target.split('points="')[1].split('"')[0].split()]
    assert xs == sorted(xs) and len(xs) == 6  # three seconds, each held from its start to its end


def test_log_axes_have_ticks_to_read() -> None:
    svg = chart("t", [Line("a", [(0, 120.0), (1, 900.0)])], y_label="ms", log_y=True)
    y_tick = 'text-anchor="end" fill="#444">{}<'.format
    for label in ("100", "200", "500", "1,000"):
        assert y_tick(label) in svg  # one decade: 1, 2 and 5 ticks, not just its two ends
    wide = chart("t", [Line("a", [(0, 0.01), (1, 1000.0)])], y_label="ms", log_y=True)
    assert y_tick("0.02") not in wide and y_tick("0.01") in wide and y_tick("1,000") in wide


def test_distribution_from_the_histogram() -> None:
    h = new_histogram()
    for i in range(1, 1001):
        record_seconds(h, i / 1000)  # 1 .. 1000 ms
    points = dict(distribution(h))
    assert points[50.0] == pytest.approx(500, rel=0.01) and points[99.0] == pytest.approx(990, rel=0.01)
    assert points[100.0] == pytest.approx(1000, rel=0.01)
    assert 99.99 not in points  # 1,000 samples cannot tell 1 in 10,000
    svg = distribution_chart("d", [("latency", tuple(points.items()))])
    for label in (">0%<", ">90%<", ">99%<", ">99.9%<"):
        assert label in svg
    assert distribution(new_histogram()) == ()
