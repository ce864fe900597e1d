"""What a load test exports: --histogram-log (HdrHistogram's log format) and
Prometheus metrics, checked against the run's own result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from bulksend.cli import main
from bulksend.loadtest import LoadSpec, RateProfile, run_loadtest
from bulksend.metrics import Metrics, use
from bulksend.sandbox import SandboxConfig, SandboxPlan
from tests.helpers import make_config, plan_table
from tests.loadtest.test_loadtest_sandbox import sandbox_thread, write_config
from tests.metrics.test_metrics import samples, value

pytestmark = pytest.mark.timeout(60)


def intervals(path: Path) -> dict[str, list[HdrHistogram]]:
    """The log's interval histograms by tag ('' for untagged lines)."""
    out: dict[str, list[HdrHistogram]] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith(("#", '"')):
            continue
        tag = ""
        if line.startswith("Tag="):
            tag, line = line[4:].split(",", 1)
        start, length, max_ms, payload = line.split(",", 3)
        float(start), float(length), float(max_ms)
        out.setdefault(tag, []).append(HdrHistogram.decode(payload.encode("ascii")))
    return out


def test_histogram_log_holds_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.hlog"
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})
    with sandbox_thread(config) as sb:
        path = str(write_config(tmp_path, sb.url))
        code = main(["loadtest", "-c", path, "--plan", "demo", "--rate", "200", "--duration", "1.5",
                     "--json", "--histogram-log", str(log)])
        data = json.loads(capsys.readouterr().out)
        # never over an existing file
        assert main(["loadtest", "-c", path, "--plan", "demo", "--rate", "10", "--duration", "0.2",
                     "--histogram-log", str(log)]) == 2
    assert code == 0
    assert "exists" in capsys.readouterr().err
    text = log.read_text(encoding="ascii")
    assert text.startswith("#bulksend loadtest: plan demo") and "#[StartTime: " in text
    assert '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"' in text
    by_tag = intervals(log)
    assert len(by_tag[""]) >= 2  # one per second
    assert sum(h.get_total_count() for h in by_tag[""]) == data["latency"]["count"] == 300
    assert sum(h.get_total_count() for h in by_tag["service"]) == data["service_time"]["count"]
    assert sum(h.get_total_count() for h in by_tag["lateness"]) == data["lateness"]["count"]
    # hdrh's own reader takes it: all intervals, tagged or not, add up
    reader = HistogramLogReader(str(log), HdrHistogram(1, 3_600_000_000, 3))
    total = HdrHistogram(1, 3_600_000_000, 3)
    while reader.add_next_interval_histogram(total):
        pass
    reader.close()
    assert total.get_total_count() == sum(h.get_total_count() for hs in by_tag.values() for h in hs)


async def test_metrics_of_a_load_test_match_its_result(sandbox) -> None:
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=300, burst=30, mode="reject")})
    async with sandbox(config) as sb:
        plan = make_config({"demo": plan_table(sb.url)}).plan("demo")
        with use(Metrics()) as metrics:
            result = await run_loadtest(LoadSpec(plan, RateProfile.constant(400, 1.5), delivery=True,
                                                 drain_timeout=5))
    got = samples(metrics.exposition().decode())
    assert result.rate_limited > 0 and result.delivered > 0
    for status, n in result.statuses.items():
        assert value(got, "bulksend_requests_total", status=status) == n
    assert value(got, "bulksend_rate_limited_total") == result.rate_limited
    assert value(got, "bulksend_recipients_total", outcome="accepted") == result.accepted
    assert value(got, "bulksend_recipients_total", outcome="failed") == result.failed
    assert value(got, "bulksend_request_duration_seconds_count") == result.requests
    assert value(got, "bulksend_delivery_latency_seconds_count") == result.delivered
    assert value(got, "bulksend_delivery_latency_seconds_bucket", le="+Inf") == result.delivered
    assert value(got, "bulksend_requests_in_flight") == 0
