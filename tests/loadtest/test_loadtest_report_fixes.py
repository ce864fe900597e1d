"""Issue 19 item 6: what the load-test report and summary say (pure values, no sockets)."""

from __future__ import annotations

import pytest

from bulksend.config import parse_config
from bulksend.loadtest import LoadSpec, RateProfile, Recorder, format_result, summarize

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
