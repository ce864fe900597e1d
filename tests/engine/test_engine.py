"""The engine against the real sandbox on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path

import pytest

from bulksend.engine import CampaignSpec, Engine
from bulksend.models import Message
from bulksend.recipients import SEND_BLOCK, RecipientSource
from bulksend.sandbox import Faults, SandboxConfig, SandboxPlan
from tests.helpers import free_port, make_config, plan_table, write_numbers


def spec(name: str, plan: str, path: Path, body: str = "Hello", **kw: object) -> CampaignSpec:
    return CampaignSpec(name, plan, Message(body), RecipientSource(str(path)), **kw)  # type: ignore[arg-type]


async def test_every_recipient_once_and_results_file(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    with numbers.open("a") as f:
        f.write("46700000005\nnot-a-number\n")  # a duplicate and an invalid line
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        config = make_config({"a": plan_table(sb.url)})
        async with Engine(config) as engine:
            summary = await engine.send(spec("c", "a", numbers, results_path=str(tmp_path / "r.csv"),
                                             rejects_path=str(tmp_path / "rej.csv")))
        stats = sb.state.plans["p1"]
    assert (summary.recipients_read, summary.sent, summary.duplicates, summary.invalid) == (1002, 1000, 1, 1)
    assert summary.batches == 10 and summary.exit_code == 0
    assert stats.stats.recipients == 1000 and max(stats.received.values()) == 1
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0] == "msisdn,status,batch_id,code,attempts" and len(rows) == 1001
    assert rows[1].split(",")[1] == "accepted"
    assert "not-a-number" in (tmp_path / "rej.csv").read_text()


async def test_fifo_two_campaigns_on_one_plan(sandbox, tmp_path: Path) -> None:
    first = write_numbers(tmp_path / "a.txt", 600, start=46_700_000_000)
    second = write_numbers(tmp_path / "b.txt", 600, start=46_800_000_000)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        # Slow enough that both campaigns are queued before much is sent.
        config = make_config({"a": plan_table(sb.url, rate=4000, burst=100, concurrency=1)})
        async with Engine(config) as engine:
            run_a = engine.submit(spec("first", "a", first))
            run_b = engine.submit(spec("second", "a", second))
            await asyncio.gather(run_a.wait(), run_b.wait())
        refs = [r.client_reference for r in sb.state.plans["p1"].batches.values()]
    assert refs == [f"first:{i}" for i in range(6)] + [f"second:{i}" for i in range(6)]


async def test_two_plans_run_in_parallel(sandbox, tmp_path: Path) -> None:
    one = write_numbers(tmp_path / "a.txt", 1500, start=46_700_000_000)
    two = write_numbers(tmp_path / "b.txt", 1500, start=46_800_000_000)
    plans = {"p1": SandboxPlan(), "p2": SandboxPlan()}
    async with sandbox(SandboxConfig(plans=plans)) as sb:
        config = make_config({
            "a": plan_table(sb.url, rate=1500, burst=100),
            "b": plan_table(sb.url, service_plan_id="p2", rate=1500, burst=100),
        })
        async with Engine(config) as engine:
            started = time.monotonic()
            a, b = await asyncio.gather(engine.send(spec("one", "a", one)), engine.send(spec("two", "b", two)))
            elapsed = time.monotonic() - started
        accepted = {pid: [r.accepted_at for r in p.batches.values()] for pid, p in sb.state.plans.items()}
    assert a.sent == b.sent == 1500
    # Each plan alone needs ~(1500-100)/1500 = 0.93 s; in sequence it would be ~1.87 s.
    assert elapsed < 1.6
    assert accepted["p2"][0] < accepted["p1"][-1] and accepted["p1"][0] < accepted["p2"][-1]


async def test_rate_is_used_fully_but_never_exceeded(sandbox, tmp_path: Path) -> None:
    rate, burst, batch, count = 2000, 200, 100, 6000
    numbers = write_numbers(tmp_path / "n.txt", count)
    # The provider allows the same rate, with one extra batch of burst for network jitter.
    plans = {"p1": SandboxPlan(rate=rate, burst=burst + batch, mode="reject")}
    async with sandbox(SandboxConfig(plans=plans)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=rate, burst=burst, max_batch=batch, concurrency=8)})
        async with Engine(config) as engine:
            summary = await engine.send(spec("r", "a", numbers))
        stats = sb.state.plans["p1"].stats
        times = sorted(r.accepted_at for r in sb.state.plans["p1"].batches.values())
    assert summary.sent == count
    assert stats.rate_limited == 0
    # After the first burst, recipients flow at the plan's rate.
    after_burst = count - burst - batch  # the first batch past the burst opens the window
    achieved = after_burst / (times[-1] - times[burst // batch])
    assert achieved == pytest.approx(rate, rel=0.05)


async def test_faults_are_retried_and_nobody_gets_two(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 4000)
    faults = Faults(error_rate=0.1, rate_limit_rate=0.1, retry_after=0.01, drop_rate=0.05, accept_drop_rate=0.1)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()}, faults=faults, seed=3)) as sb:
        # A dropped batch the provider does not hold is sent again once the timeout has passed.
        config = make_config({"a": plan_table(sb.url, max_batch=50, timeout=0.3)})
        async with Engine(config) as engine:
            summary = await engine.send(spec("f", "a", numbers))
        plan = sb.state.plans["p1"]
    assert summary.sent == 4000 and summary.failed == summary.unknown == 0
    assert summary.retries > 0
    assert plan.stats.accept_drops > 0 and plan.stats.drops > 0 and plan.stats.lookups > 0
    assert len(plan.received) == 4000 and max(plan.received.values()) == 1


async def test_a_late_accept_after_a_broken_connection_is_not_sent_twice(sandbox, tmp_path: Path) -> None:
    # The provider drops the connection, then takes the batch 150 ms later. A
    # lookup right after the drop finds nothing; bulksend must not believe it
    # before the plan's timeout (0.5 s) has passed since the request left.
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    faults = Faults(late_accept_rate=0.2, late_accept_ms=150)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()}, faults=faults, seed=5)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=50, timeout=0.5)})
        async with Engine(config) as engine:
            summary = await engine.send(spec("late", "a", numbers))
        await asyncio.gather(*sb.state.background)  # every late accept has landed
        plan = sb.state.plans["p1"]
    assert plan.stats.late_accepts > 0
    assert summary.sent == 1000 and summary.failed == summary.unknown == 0
    assert len(plan.received) == 1000 and max(plan.received.values()) == 1
    # late batches were looked up too early (absent), then again after the timeout
    assert plan.stats.lookups > plan.stats.late_accepts


async def test_absent_is_believed_only_after_the_timeout(sandbox, tmp_path: Path) -> None:
    # Every first attempt is dropped before the provider takes it. The lookup
    # right after says "absent"; bulksend waits out the rest of the plan's
    # timeout (not the backoff) before it asks again and resends.
    numbers = write_numbers(tmp_path / "n.txt", 100)
    waits: list[float] = []

    async def sleep(delay: float) -> None:  # recorded, not slept
        waits.append(delay)

    faults = Faults(drop_rate=1.0)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(faults=faults)}, seed=1)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=100, timeout=5.0,
                                              retry={"initial": 0.01, "max": 0.02, "jitter": 0, "attempts": 2})})
        async with Engine(config, sleep=sleep) as engine:
            summary = await engine.send(spec("d", "a", numbers))
        lookups = sb.state.plans["p1"].stats.lookups
    assert summary.requests == 2 and summary.sent == 0  # both attempts dropped: nothing was taken
    assert waits[0] == pytest.approx(0.01)  # the backoff
    assert 4.0 < waits[1] <= 5.0  # the rest of the timeout, before "absent" is believed
    assert lookups == 2


async def test_a_resent_batch_spends_its_tokens_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The provider counts every request it is sent, answered or not: a resend
    # must wait for the bucket like a new batch, or retries would burst past the limit.
    from aiohttp import web

    from bulksend.engine.bucket import RecipientBucket
    from bulksend.serving import serve_app

    spent: list[int] = []
    spend = RecipientBucket.spend

    async def recording(self: RecipientBucket, recipients: int) -> None:
        spent.append(recipients)
        await spend(self, recipients)

    monkeypatch.setattr(RecipientBucket, "spend", recording)
    posts = 0

    async def create(request: web.Request) -> web.Response:
        nonlocal posts
        posts += 1
        data = await request.json()
        if posts <= 2:
            return web.json_response({"code": "internal_error", "text": "busy"}, status=503)
        return web.json_response({"id": "01BATCH", **data}, status=201)

    app = web.Application()
    app.router.add_post("/xms/v1/p1/batches", create)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    async with serve_app(app) as url:
        config = make_config({"a": plan_table(url, retry={"initial": 0.001, "max": 0.002, "jitter": 0})})
        async with Engine(config) as engine:
            summary = await engine.send(spec("t", "a", numbers))
    assert (summary.sent, summary.requests, summary.retries) == (50, 3, 2)
    assert spent == [50, 50, 50]  # the pacer's spend, then one for each resend


async def test_400_is_not_retried(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        config = make_config({"a": plan_table(sb.url)})
        async with Engine(config) as engine:
            run = engine.submit(CampaignSpec("bad", "a", Message("Hi", sender="ThisSenderIsFarTooLong"),
                                             RecipientSource(str(numbers))))
            summary = await run.wait()
    assert summary.failed == 300 and summary.sent == 0
    assert summary.requests == summary.batches == 3 and summary.retries == 0
    assert summary.exit_code == 1
    assert "syntax_invalid_parameter_format" in summary.last_errors[-1]


@pytest.mark.parametrize("auto_pause", [None, False])
async def test_a_campaign_failing_batch_after_batch_pauses_by_default(sandbox, tmp_path: Path,
                                                                     auto_pause: bool | None) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 5000)
    overrides = {} if auto_pause is None else {"auto_pause": auto_pause}
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=10, burst=200, **overrides)})
        async with Engine(config) as engine:
            summary = await engine.send(CampaignSpec("bad", "a", Message("Hi", sender="ThisSenderIsFarTooLong"),
                                                     RecipientSource(str(numbers))))
        received = sb.state.plans["p1"].stats.batches
    assert received == 0 and summary.sent == 0
    if auto_pause is None:  # the default window: 20 batches, more than half of them failed
        assert summary.exit_code == 75 and summary.stopped_reason.startswith(
            "auto-paused: 20 of the last 20 batches failed or ended unknown (max_error_rate 0.5)")
        assert 200 <= summary.failed <= 200 + 10 * 8  # the window, plus the batches already in flight
    else:  # switched off: every batch is tried and fails
        assert summary.exit_code == 1 and summary.failed == 5000 and summary.batches == 500


async def test_401_stops_the_campaign(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 5000)
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan(token="right")})) as sb:
        config = make_config({"a": plan_table(sb.url, token_env="TOKEN", concurrency=2)})
        async with Engine(config, env={"TOKEN": "wrong"}) as engine:
            summary = await engine.send(spec("denied", "a", numbers))
        unauthorized = sb.state.plans["p1"].stats.unauthorized
    assert summary.exit_code == 3
    assert summary.sent == 0 and summary.requests <= 2 and unauthorized <= 2
    assert "refused" in summary.stopped_reason and "wrong" not in summary.stopped_reason


@pytest.mark.parametrize("body", ["Hello", "Hello ${name}"])  # numbers only, and recipients with values
async def test_stop_lets_in_flight_finish_and_reports_the_rest(sandbox, tmp_path: Path, body: str) -> None:
    numbers = tmp_path / "n.csv"
    numbers.write_text("phone,name\n" + "".join(f"{46_700_000_000 + i},N{i}\n" for i in range(5000)) +
                       "46700000007,again\nnot-a-number,x\n", encoding="utf-8")
    results = tmp_path / "r.csv"
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        config = make_config({"a": plan_table(sb.url, rate=5000, burst=100, max_batch=30)})
        async with Engine(config) as engine:
            run = engine.submit(spec("s", "a", numbers, body, results_path=str(results)))
            await asyncio.sleep(0.2)
            run.stop()
            summary = await asyncio.wait_for(run.wait(), 5)
        received = sb.state.plans["p1"].stats.recipients
    assert 0 < summary.sent < 5000
    assert summary.sent == received  # nothing in flight was lost
    assert summary.exit_code == 75
    # Every recipient read is accounted for: those never cut into a batch are "not sent" too.
    s = summary
    assert s.recipients_read == s.invalid + s.duplicates + s.excluded + s.sent + s.failed + s.unknown + s.not_sent
    with results.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len({r["msisdn"] for r in rows}) == s.sent + s.not_sent
    assert sum(r["status"] == "not_sent" for r in rows) == s.not_sent > 0


async def test_million_line_list_streams_with_bounded_read_ahead(sandbox, tmp_path: Path) -> None:
    numbers = tmp_path / "million.txt"
    numbers.write_text("".join(f"{46_700_000_000 + i}\n" for i in range(1_000_000)), encoding="utf-8")
    async with sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        # 2,000/s: in 0.5 s about 1,000 recipients can be sent.
        config = make_config({"a": plan_table(sb.url, rate=2000, burst=100, max_batch=100, concurrency=4)})
        async with Engine(config) as engine:
            run = engine.submit(spec("m", "a", numbers))
            await asyncio.sleep(0.5)
            read_ahead = run.stats.recipients_read - run.stats.settled
            run.stop()
            await asyncio.wait_for(run.wait(), 5)
    # queue (max(4, 2 x concurrency) = 8 batches) + in flight (4) + the block the producer holds
    assert run.stats.recipients_read < 1_000_000
    assert read_ahead <= (8 + 4 + 1) * 100 + SEND_BLOCK


async def test_a_sink_counts_without_checking_each_number_but_still_refuses_a_bad_shape(sandbox) -> None:
    import aiohttp
    import orjson

    async def post(url: str, payload: object) -> tuple[int, dict[str, object]]:
        async with aiohttp.ClientSession() as s, s.post(
                url, data=orjson.dumps(payload), headers={"Authorization": "Bearer t"}) as resp:
            return resp.status, orjson.loads(await resp.read())

    odd = {"to": ["46700000001", "0701234567", "not a number"], "body": "hi"}
    async with sandbox(SandboxConfig(open_plans=True)) as full, sandbox(SandboxConfig(open_plans=True, sink=True)) as sink:
        checked = await post(f"{full.url}/xms/v1/p/batches", odd)
        counted = await post(f"{sink.url}/xms/v1/p/batches", odd)
        shape = await post(f"{sink.url}/xms/v1/p/batches", {"to": [46700000001], "body": "hi"})
        stats = sink.state.stats()["plans"]["p"]
    assert checked[0] == 400 and checked[1]["code"] == "syntax_invalid_parameter_format"
    assert counted[0] == 201 and counted[1]["to"] == odd["to"] and str(counted[1]["id"])
    assert shape[0] == 400 and shape[1]["code"] == "syntax_invalid_parameter_format"
    assert stats["recipients"] == 3 and stats["batches"] == 1


async def test_an_unreachable_provider_stops_the_campaign_instead_of_failing_it(tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 5000)
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    config = make_config({"a": plan_table(url, retry={"initial": 0.001, "max": 0.002, "jitter": 0, "attempts": 3})})
    async with Engine(config) as engine:
        summary = await asyncio.wait_for(engine.send(spec("down", "a", numbers)), 10)
    assert summary.exit_code == 75 and "cannot connect to 127.0.0.1" in summary.stopped_reason
    assert summary.sent == summary.failed == summary.unknown == 0
    assert summary.requests <= 4 * 3  # the batches in flight tried; the rest were never started
    assert summary.not_sent == summary.recipients_read == 5000  # queued or never cut, none was sent


async def test_a_batch_whose_lookups_keep_failing_is_unknown_not_failed(tmp_path: Path) -> None:
    # Every send is cut off after it left (it may have been taken), and every
    # lookup answers 503: when the tries run out, nobody can say.
    from aiohttp import web

    from bulksend.serving import serve_app

    async def create(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def lookup(request: web.Request) -> web.Response:
        return web.json_response({"code": "internal_error", "text": "down"}, status=503)

    app = web.Application()
    app.router.add_post("/xms/v1/p1/batches", create)
    app.router.add_get("/xms/v1/p1/batches", lookup)
    numbers = write_numbers(tmp_path / "n.txt", 100)
    async with serve_app(app) as url:
        config = make_config({"a": plan_table(url, retry={"initial": 0.001, "max": 0.002, "jitter": 0, "attempts": 3})})
        async with Engine(config) as engine:
            summary = await engine.send(spec("u", "a", numbers))
    assert summary.unknown == 100 and summary.failed == 0 and summary.exit_code == 1
