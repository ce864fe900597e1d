"""What limits the rate (``core.limits``), and ``concurrency = "auto"``, with an injected clock.

The handler "takes" 200 ms by moving a fake clock forward: the engine's
``BatchSender`` times requests with that clock, so latency is measured
exactly and nothing waits for real.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bulksend.cli.render import limit_short, limit_text, summary_text
from bulksend.config import ConfigError
from bulksend.core.limits import Measured, auto_concurrency, limit, needed_concurrency
from bulksend.engine import CampaignSpec, Engine
from bulksend.engine.transport import MockTransport
from bulksend.models import HttpRequest, HttpResponse, Message
from bulksend.recipients import RecipientSource
from tests.helpers import make_config, plan_table, write_numbers

URL = "http://127.0.0.1:9"  # never connected to: the transport answers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def slow_xms(clock: FakeClock, seconds: float = 0.2):  # type: ignore[no-untyped-def]
    """An XMS that accepts every batch, each answer "taking" ``seconds`` of the fake clock."""
    count = 0

    def handler(request: HttpRequest) -> HttpResponse:
        nonlocal count
        clock.now += seconds
        count += 1
        data = orjson.loads(request.body)
        return HttpResponse(201, {"Content-Type": "application/json"}, orjson.dumps({"id": f"B{count}", **data}))
    return handler


def test_concurrency_is_named_with_littles_law() -> None:
    found = limit(Measured(achieved=20.0, plan_rate=100.0, concurrency=4, batch=1.0, latency_s=0.2, requests=400))
    assert found is not None and found.kind == "concurrency"
    assert found.ceiling == pytest.approx(20.0) and found.needed == 20
    assert limit_text(found) == ("requests in flight: 4 in flight × 200 ms = 20/s; "
                                 "concurrency 20 would reach the plan's 100/s")
    assert limit_short(found) == "concurrency 4 (200 ms a request)"


def test_the_plan_the_provider_and_the_cpu_are_named() -> None:
    base = dict(plan_rate=100.0, concurrency=40, batch=1.0, latency_s=0.2, requests=1000)
    plan = limit(Measured(achieved=98.0, **base))  # type: ignore[arg-type]
    assert plan is not None and plan.kind == "rate" and "98 of the plan's 100" in limit_text(plan)
    provider = limit(Measured(achieved=70.0, rate_limited=240, **base))  # type: ignore[arg-type]
    assert provider is not None and provider.kind == "provider" and "240 of 1,000 requests (24%)" in limit_text(provider)
    cpu = limit(Measured(achieved=60.0, cpu=0.97, **base))  # type: ignore[arg-type]
    assert cpu is not None and cpu.kind == "cpu" and "97% of a core" in limit_text(cpu)
    assert limit(Measured(achieved=60.0, cpu=0.3, **base)) is None  # nothing measured says  # type: ignore[arg-type]
    assert limit(Measured(achieved=0.0, **base)) is None  # type: ignore[arg-type]


def test_batches_count_in_what_concurrency_carries() -> None:
    found = limit(Measured(achieved=3_900.0, plan_rate=10_000.0, concurrency=4, batch=200.0, latency_s=0.2,
                           requests=100))
    assert found is not None and found.kind == "concurrency" and found.ceiling == pytest.approx(4_000.0)
    assert found.needed == 10  # 10,000/s in batches of 200 is 50 requests a second, each out 200 ms
    assert "4 in flight of 200 recipients × 200 ms = 4,000/s; concurrency 10" in limit_text(found)


def test_auto_concurrency_follows_littles_law_within_its_cap() -> None:
    assert needed_concurrency(100.0, 1.0, 0.2) == 20
    assert auto_concurrency(100.0, 1.0, 0.2, most=64, current=8) == 25  # with a quarter's headroom
    assert auto_concurrency(100.0, 1.0, 0.2, most=10, current=8) == 10
    assert auto_concurrency(100.0, 1.0, None, most=64, current=8) == 8  # nothing measured yet
    assert auto_concurrency(100.0, 1.0, 0.001, most=64, current=8) == 2  # one needed, and headroom


@pytest.mark.parametrize(("most", "expected"), [(64, 25), (10, 10)])
async def test_auto_concurrency_is_sized_from_the_measured_latency(tmp_path: Path, most: int, expected: int) -> None:
    clock = FakeClock()
    config = make_config({"a": plan_table(URL, rate=100, burst=1000, max_batch=1, concurrency="auto",
                                          max_concurrency=most)})
    assert config.plan("a").auto_concurrency and config.plan("a").concurrency == min(8, most)
    path = write_numbers(tmp_path / "n.txt", 60)
    async with Engine(config, transport=MockTransport(slow_xms(clock))) as engine:
        runner = engine.plan_runner("a")
        runner.sender.clock = clock
        run = engine.submit(CampaignSpec("c", "a", Message("Hi"), RecipientSource(str(path))))
        summary = await run.wait()
    assert summary.sent == 60
    assert runner.sender.latency == pytest.approx(0.2)
    assert runner.concurrency == expected == run.concurrency


async def test_a_run_measures_what_limits_it(tmp_path: Path) -> None:
    clock = FakeClock()
    config = make_config({"a": plan_table(URL, rate=100, burst=1000, max_batch=1, concurrency=4)})
    path = write_numbers(tmp_path / "n.txt", 40)
    async with Engine(config, transport=MockTransport(slow_xms(clock))) as engine:
        engine.plan_runner("a").sender.clock = clock
        run = engine.submit(CampaignSpec("c", "a", Message("Hi"), RecipientSource(str(path))))
        summary = await run.wait()
    assert run.stats.latency == pytest.approx(0.2) and run.concurrency == 4
    # 4 in flight, 200 ms each: the 20/s that a real clock would have seen
    found = limit(run.measured(achieved=20.0))
    assert found is not None and found.kind == "concurrency" and found.needed == 20
    text = summary_text(summary)
    assert "sent               40   in 40 batches, 40 requests, 0 retries" in text


def test_concurrency_must_be_a_number_or_auto() -> None:
    with pytest.raises(ConfigError, match='concurrency must be a number or "auto"'):
        make_config({"a": plan_table(URL, concurrency="lots")})
