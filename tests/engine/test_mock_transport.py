"""Engine and campaign logic through the in-memory transport: no server, no socket.

The handler plays Sinch XMS (providers.md §1): ``POST .../batches`` answers
201 with the batch id, ``GET .../batches?client_reference=...`` lists what it
holds. Waits go through an injected ``sleep`` that records them, so nothing
here waits for real. End-to-end behaviour against the real sandbox stays in
``test_engine.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest

from bulksend.engine import CampaignSpec, Engine
from bulksend.engine.retry import Sleep
from bulksend.engine.transport import MockTransport
from bulksend.errors import AmbiguousOutcome, Unreachable
from bulksend.models import HttpRequest, HttpResponse, Message
from bulksend.recipients import RecipientSource
from tests.helpers import make_config, plan_table, write_numbers

URL = "http://127.0.0.1:9"  # never connected to: the transport answers
BATCHES = f"{URL}/xms/v1/p1/batches"


class FakeXms:
    """Just enough of XMS for the engine: creates, lists by client_reference."""

    def __init__(self) -> None:
        self.batches: dict[str, dict[str, object]] = {}  # client_reference -> batch
        self.posts = 0
        self.lookups = 0

    def accept(self, request: HttpRequest) -> HttpResponse:
        data = orjson.loads(request.body)
        batch_id = f"B{len(self.batches) + 1}"
        self.batches[data["client_reference"]] = {"id": batch_id, **data}
        return HttpResponse(201, {"Content-Type": "application/json"},
                            orjson.dumps({"id": batch_id, **data}))

    def list(self, request: HttpRequest) -> HttpResponse:
        self.lookups += 1
        ref = parse_qs(urlsplit(request.url).query)["client_reference"][0]
        found = [self.batches[ref]] if ref in self.batches else []
        return HttpResponse(200, {}, orjson.dumps({"page": 0, "page_size": 100, "count": len(found),
                                                   "batches": found}))


def spec(path: Path, name: str = "c") -> CampaignSpec:
    return CampaignSpec(name, "a", Message("Hello"), RecipientSource(str(path)))


def recorder() -> tuple[list[float], Sleep]:
    waits: list[float] = []

    async def sleep(delay: float) -> None:  # recorded, not slept
        waits.append(delay)

    return waits, sleep


async def test_a_campaign_is_sent_through_the_mock(tmp_path: Path) -> None:
    xms = FakeXms()

    def handler(request: HttpRequest) -> HttpResponse:
        assert request.method == "POST" and request.url == BATCHES
        assert request.headers["Authorization"] == "Bearer sandbox"
        xms.posts += 1
        return xms.accept(request)

    transport = MockTransport(handler)
    numbers = write_numbers(tmp_path / "n.txt", 250)
    async with Engine(make_config({"a": plan_table(URL)}), transport=transport) as engine:
        assert engine.transport is transport
        summary = await engine.send(spec(numbers))
    assert (summary.sent, summary.batches, summary.requests, summary.retries) == (250, 3, 3, 0)
    assert summary.exit_code == 0
    sent = [n for r in transport.requests for n in orjson.loads(r.body)["to"]]
    assert sorted(sent) == [str(46_700_000_000 + i) for i in range(250)]
    assert sorted(xms.batches) == ["c:0", "c:1", "c:2"]


async def test_429_is_retried_after_the_retry_after_it_gives(tmp_path: Path) -> None:
    xms = FakeXms()

    def handler(request: HttpRequest) -> HttpResponse:
        xms.posts += 1
        if xms.posts == 1:
            return HttpResponse(429, {"Retry-After": "3"},
                                b'{"code": "too_many_requests", "text": "slow down"}')
        return xms.accept(request)

    waits, sleep = recorder()
    numbers = write_numbers(tmp_path / "n.txt", 100)
    config = make_config({"a": plan_table(URL, retry={"initial": 0.01, "max": 10, "jitter": 0, "attempts": 3})})
    async with Engine(config, transport=MockTransport(handler), sleep=sleep) as engine:
        summary = await engine.send(spec(numbers))
    assert (summary.sent, summary.requests, summary.retries, summary.failed) == (100, 2, 1, 0)
    assert waits == [3.0]  # Retry-After, not the 0.01 s backoff
    assert summary.last_errors and "429" in summary.last_errors[0]


async def test_an_ambiguous_timeout_is_reconciled_not_resent(tmp_path: Path) -> None:
    # The provider takes the batch but the answer never comes: bulksend asks
    # whether it holds the client_reference before sending anything again.
    xms = FakeXms()

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return xms.list(request)
        xms.posts += 1
        xms.accept(request)
        raise asyncio.TimeoutError  # what aiohttp raises when the answer is late

    waits, sleep = recorder()
    numbers = write_numbers(tmp_path / "n.txt", 100)
    async with Engine(make_config({"a": plan_table(URL)}), transport=MockTransport(handler),
                      sleep=sleep) as engine:
        run = engine.submit(spec(numbers))
        summary = await run.wait()
    assert (summary.sent, summary.requests, summary.unknown) == (100, 1, 0)
    assert xms.posts == 1 and xms.lookups == 1 and run.stats.lookups == 1
    assert len(waits) == 1  # the backoff before the retry that looked it up


async def test_absent_after_a_timeout_is_believed_only_after_the_plan_timeout(tmp_path: Path) -> None:
    # The request is lost before the provider takes it. The lookup right after
    # says "absent"; bulksend waits out the rest of the plan's timeout, asks
    # again, and only then sends once more.
    xms = FakeXms()

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return xms.list(request)
        xms.posts += 1
        if xms.posts == 1:
            raise AmbiguousOutcome("connection to 127.0.0.1:9 broke", code="disconnected")
        return xms.accept(request)

    waits, sleep = recorder()
    numbers = write_numbers(tmp_path / "n.txt", 100)
    config = make_config({"a": plan_table(URL, timeout=5.0,
                                          retry={"initial": 0.01, "max": 0.02, "jitter": 0, "attempts": 3})})
    async with Engine(config, transport=MockTransport(handler), sleep=sleep) as engine:
        summary = await engine.send(spec(numbers))
    assert (summary.sent, summary.requests, summary.unknown) == (100, 2, 0)
    assert xms.lookups == 2 and list(xms.batches) == ["c:0"]
    assert waits[0] == pytest.approx(0.01)  # the backoff
    assert 4.0 < waits[1] <= 5.0  # the rest of the timeout before "absent" is believed


async def test_unreachable_stops_the_campaign_with_nothing_sent(tmp_path: Path) -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise Unreachable("cannot connect to 127.0.0.1:9: Connection refused")

    waits, sleep = recorder()
    numbers = write_numbers(tmp_path / "n.txt", 100)
    config = make_config({"a": plan_table(URL, retry={"initial": 0.01, "max": 0.02, "jitter": 0, "attempts": 2})})
    transport = MockTransport(handler)
    async with Engine(config, transport=transport, sleep=sleep) as engine:
        summary = await engine.send(spec(numbers))
    assert summary.sent == summary.failed == summary.unknown == 0
    assert summary.not_sent == 100 and "resumable" in summary.stopped_reason
    assert len(transport.requests) == 2 and waits == [pytest.approx(0.01)]  # one backoff, then it stops


async def test_a_handler_may_hold_a_request_in_flight() -> None:
    gate = asyncio.Event()

    async def answer() -> HttpResponse:
        await gate.wait()
        return HttpResponse(200, {}, b"{}")

    transport = MockTransport(lambda request: answer())
    pending = asyncio.create_task(transport.send(HttpRequest("GET", URL, {}), aiohttp.ClientTimeout(total=1)))
    await asyncio.sleep(0)
    assert not pending.done() and len(transport.requests) == 1
    gate.set()
    assert (await pending).status == 200


async def test_a_lookup_is_retried_like_any_transient_call() -> None:
    # What resume's reconcile does for a batch left in flight: the lookup's
    # first answer is a 503, the second finds the batch.
    from bulksend.engine.calls import ProviderCalls
    from bulksend.models import Batch, Numbers
    from bulksend.providers import build_provider

    xms = FakeXms()
    xms.accept(HttpRequest("POST", BATCHES, {}, orjson.dumps({"to": ["46700000001"], "client_reference": "c:4"})))
    answers = iter([HttpResponse(503, {}, b'{"code": "busy", "text": ""}')])

    def handler(request: HttpRequest) -> HttpResponse:
        return next(answers, None) or xms.list(request)

    waits, sleep = recorder()
    plan = make_config({"a": plan_table(URL, retry={"initial": 0.5, "max": 1, "jitter": 0})}).plan("a")
    calls = ProviderCalls(build_provider(plan, {}), MockTransport(handler), plan, sleep)
    found = await calls.lookup(Batch("c", 4, Numbers(["46700000001"])))
    assert found is not None and found.provider_id == "B1"
    assert xms.lookups == 1 and waits == [0.5]


async def test_without_a_transport_the_engine_owns_one_session_with_one_user_agent() -> None:
    from bulksend.engine.transport import USER_AGENT, HttpTransport

    engine = Engine(make_config({"a": plan_table(URL)}))
    with pytest.raises(RuntimeError, match="async with"):
        engine.transport  # noqa: B018 - only inside ``async with``
    async with engine:
        transport = engine.transport
        assert isinstance(transport, HttpTransport)
        assert transport.session.headers["User-Agent"] == USER_AGENT
        plan_transport = engine.calls("a").transport  # the plan's route (TLS, proxy) bound in
        assert isinstance(plan_transport, HttpTransport)
        assert plan_transport.session is transport.session  # lookups and polls share the session
        assert engine.plan_runner("a").sender.transport is plan_transport
    assert transport.session.closed
