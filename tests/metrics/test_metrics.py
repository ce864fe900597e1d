"""/metrics scraped from real runs against the sandbox: the figures add up with the run's summary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bulksend.engine import CampaignSpec, Engine
from bulksend.metrics import Metrics, serving, use
from bulksend.models import Message
from bulksend.recipients import RecipientSource
from bulksend.sandbox import Faults, SandboxConfig, SandboxPlan
from tests.helpers import make_config, plan_table, write_config, write_numbers


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_scraped_figures_add_up_with_the_summary(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 600)
    with numbers.open("a") as f:
        f.write("46700000005\nnot-a-number\n")
    faults = Faults(rate_limit_rate=0.2, retry_after=0.0, error_rate=0.1)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(faults=faults)}, seed=3)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=20, rate=3000, burst=40)})
        metrics = Metrics()
        spec = CampaignSpec("m", "a", Message("Hi"), RecipientSource(str(numbers)))
        async with Engine(config, metrics=metrics) as engine:
            summary = await engine.send(spec)
        async with aiohttp.ClientSession() as s, s.get(sb.url + "/metrics") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            sandbox_text = await resp.text()
        plan_stats = sb.state.plans["p1"].stats
    got = samples(metrics.exposition().decode())
    assert summary.sent == 600 and summary.retries > 0
    outcomes = {"accepted": summary.sent, "failed": summary.failed, "unknown": summary.unknown,
                "not_sent": summary.not_sent, "invalid": 1, "duplicate": 1, "excluded": 0}
    for outcome, count in outcomes.items():
        assert value(got, "bulksend_recipients_total", outcome=outcome) == count, outcome
    # every recipient read is in exactly one outcome
    assert sum(value(got, "bulksend_recipients_total", outcome=o) for o in outcomes) == summary.recipients_read
    by_status = {labels[0][1]: v for (name, labels), v in got.items() if name == "bulksend_requests_total"}
    assert sum(by_status.values()) == summary.requests == plan_stats.requests
    assert sum(v for k, v in by_status.items() if k.startswith("2")) == summary.batches  # each once
    assert by_status.get("429", 0) == plan_stats.rate_limited > 0
    assert value(got, "bulksend_rate_limited_total") == plan_stats.rate_limited
    assert by_status.get("500", 0) + by_status.get("503", 0) == plan_stats.server_errors > 0
    assert value(got, "bulksend_retries_total") == summary.retries
    assert value(got, "bulksend_batches_total") == summary.batches == 30
    assert value(got, "bulksend_request_duration_seconds_count") == summary.requests
    assert value(got, "bulksend_requests_in_flight") == 0
    assert value(got, "bulksend_bucket_wait_seconds_total") > 0  # 600 at 3000/s from a bucket of 40
    sandbox_found = samples(sandbox_text)
    assert value(sandbox_found, "bulksend_sandbox_total", plan="p1", kind="recipients") == 600
    assert value(sandbox_found, "bulksend_sandbox_total", plan="p1", kind="rate_limited") == plan_stats.rate_limited


async def test_an_engine_picks_up_the_current_metrics(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 50)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=10)})
        with use(Metrics()) as metrics:
            async with Engine(config) as engine:
                summary = await engine.send(CampaignSpec("c", "a", Message("Hi"), RecipientSource(str(numbers))))
    got = samples(metrics.exposition().decode())
    assert summary.sent == 50
    assert value(got, "bulksend_recipients_total", outcome="accepted") == 50
    assert sum(v for (name, _), v in got.items() if name == "bulksend_requests_total") == 5


def test_serving_on_a_port_in_use_is_a_clean_error() -> None:
    import pytest

    from bulksend.errors import InputError

    with serving(0) as first:
        assert first is not None
        port = int(first.url.rsplit(":", 1)[1].split("/")[0])
        with urllib.request.urlopen(first.url, timeout=5) as resp:
            assert b"bulksend_requests_in_flight" in resp.read()
        with pytest.raises(InputError, match=f"--metrics-port {port}"), serving(port):
            pass


def test_send_serves_metrics_while_it_runs(sandbox_process, tmp_path: Path) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url, rate=150, burst=10, max_batch=10)
    numbers = write_numbers(tmp_path / "n.txt", 300)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", "a", "-r", str(numbers),
         "-m", "Hi", "--no-journal", "--no-progress", "--json", "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("bulksend: metrics on http://127.0.0.1:"), line
        url = line.split(" on ")[1].strip()
        scrapes = []
        while proc.poll() is None and len(scrapes) < 50:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    scrapes.append(samples(resp.read().decode()))
            except OSError:
                break  # the run ended between poll() and the request
            time.sleep(0.1)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    summary = json.loads(out)
    assert proc.returncode == 0 and summary["sent"] == 300
    accepted = [value(s, "bulksend_recipients_total", outcome="accepted") for s in scrapes]
    assert len(accepted) >= 3 and accepted == sorted(accepted)  # counters only grow
    assert 0 < accepted[-1] <= summary["sent"]
    assert any(0 < a < 300 for a in accepted)  # seen during the run, not only at the end
    last = scrapes[-1]
    sent_requests = sum(v for (name, _), v in last.items() if name == "bulksend_requests_total")
    assert sent_requests <= summary["requests"]


async def test_listen_serves_its_callback_counts(tmp_path: Path) -> None:
    from bulksend.providers import parse_config
    from bulksend.delivery import SqliteDeliveryStore
    from bulksend.webhooks import build_listener, listening

    config = parse_config({"plans": {"a": plan_table("http://127.0.0.1:9")}})
    async with SqliteDeliveryStore(tmp_path / "d.db") as store, \
            listening(build_listener(config, store, env={})) as lst, aiohttp.ClientSession() as s:
        async with s.post(lst.url + "/callbacks/nope", data=b"{}") as resp:
            assert resp.status == 404
        async with s.post(lst.callback_url("a"), data=b"not json") as resp:
            assert resp.status == 400
        async with s.get(lst.url + "/metrics") as resp:
            got = samples(await resp.text())
    assert value(got, "bulksend_listen_callbacks_total", outcome="requests") == 2
    assert value(got, "bulksend_listen_callbacks_total", outcome="malformed") == 1


def test_every_sending_command_takes_a_metrics_port() -> None:
    from bulksend.cli import build_parser

    for command, rest in (("send", ["--plan", "a", "-r", "x.txt", "-m", "Hi"]), ("resume", ["c1"]),
                          ("loadtest", ["--plan", "a", "--rate", "1"])):
        args = build_parser(command).parse_args([command, "-c", "c.toml", *rest, "--metrics-port", "9464"])
        assert args.metrics_port == 9464, command


async def test_the_engine_counts_what_its_transport_sends(tmp_path: Path) -> None:
    """Through the in-memory transport: a 429, a timeout (no answer: 'error') and its lookup."""
    import asyncio

    from bulksend.engine.transport import MockTransport
    from bulksend.models import HttpRequest, HttpResponse
    from tests.engine.test_mock_transport import URL, FakeXms, recorder

    xms = FakeXms()

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return xms.list(request)
        xms.posts += 1
        if xms.posts == 1:
            return HttpResponse(429, {"Retry-After": "1"}, b'{"code": "too_many_requests", "text": "slow"}')
        xms.accept(request)
        if xms.posts == 2:
            raise asyncio.TimeoutError  # taken, but the answer never came
        return xms.accept(request)

    _, sleep = recorder()
    numbers = write_numbers(tmp_path / "n.txt", 200)
    config = make_config({"a": plan_table(URL, max_batch=100, concurrency=1)})
    metrics = Metrics()
    async with Engine(config, transport=MockTransport(handler), sleep=sleep, metrics=metrics) as engine:
        run = engine.submit(CampaignSpec("c", "a", Message("Hi"), RecipientSource(str(numbers))))
        summary = await run.wait()
    got = samples(metrics.exposition().decode())
    # one resend (after the 429); the batch whose answer was lost was settled by a lookup, not sent again
    assert summary.sent == 200 and summary.retries == 1 and run.stats.lookups == 1
    assert summary.requests == summary.batches + summary.retries
    assert value(got, "bulksend_retries_total") == 1
    assert value(got, "bulksend_requests_total", status="429") == 1 == value(got, "bulksend_rate_limited_total")
    assert value(got, "bulksend_requests_total", status="error") == 1
    assert value(got, "bulksend_requests_total", status="200") == 1  # the lookup that found it
    assert value(got, "bulksend_requests_total", status="201") == 1
    assert value(got, "bulksend_request_duration_seconds_count") == 3  # answered ones
    assert value(got, "bulksend_requests_in_flight") == 0
    assert value(got, "bulksend_recipients_total", outcome="accepted") == 200
