"""The sandbox's delivery simulation and callbacks (the contract delivery tracking relies on)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from bulksend.providers.signing import verify_webhook_hmac
from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from bulksend.sandbox.config import DeliverySim
from bulksend.sandbox.delivery import DELIVERED, EXPIRED, FAILED, fate, sender_of

HEADERS = {"Authorization": "Bearer t"}


class Receiver:
    """A tiny callback server on 127.0.0.1 that records what it is sent."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.raw: list[bytes] = []
        self.answers = list(answers or [])
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.answers:
            return web.Response(status=self.answers.pop(0))
        self.raw.append(raw)
        self.bodies.append(orjson.loads(raw))
        self.headers.append(dict(request.headers))
        return web.Response(status=200)


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/cb", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/cb"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def post_batch(url: str, body: dict[str, Any], plan: str = "p1") -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/xms/v1/{plan}/batches", json=body, headers=HEADERS) as r:
            return r.status, await r.json()


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers=HEADERS) as r:
            return await r.json()


def config(**delivery: Any) -> SandboxConfig:
    sim = DeliverySim(**{"retry_initial": 0.01, **delivery})
    return SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)}, delivery=sim, seed=3)


def test_fate_is_a_pure_function_and_follows_the_odds() -> None:
    sim = DeliverySim(failed_rate=0.2, expired_rate=0.1, delay=1.0, delay_jitter=2.0)
    fates = [fate(1, "B1", f"4670000{i:04d}", sim) for i in range(5000)]
    assert fates == [fate(1, "B1", f"4670000{i:04d}", sim) for i in range(5000)]
    counts = Counter(f.status for f in fates)
    assert abs(counts[FAILED] / 5000 - 0.2) < 0.03 and abs(counts[EXPIRED] / 5000 - 0.1) < 0.03
    assert counts[DELIVERED] == 5000 - counts[FAILED] - counts[EXPIRED]
    assert all(1.0 <= f.after <= 3.0 for f in fates)
    assert {f.code for f in fates} == {0, 402, 406}


async def test_per_recipient_callbacks_agree_with_the_get_reports() -> None:
    numbers = [f"4670000{i:04d}" for i in range(300)]
    async with receiving(Receiver()) as rx, running(config(failed_rate=0.3, expired_rate=0.1)) as sb:
        status, batch = await post_batch(sb.url, {
            "to": numbers, "body": "hi", "client_reference": "camp:7",
            "delivery_report": "per_recipient", "callback_url": rx.url})
        assert status == 201
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 10)
        full = await get_json(f"{sb.url}/xms/v1/p1/batches/{batch['id']}/delivery_report?type=full")
        one = await get_json(f"{sb.url}/xms/v1/p1/batches/{batch['id']}/delivery_report/{numbers[0]}")
        stats = sb.state.stats()["callbacks"]
    assert len(rx.bodies) == 300 and {b["recipient"] for b in rx.bodies} == set(numbers)
    first = rx.bodies[0]
    assert set(first) == {"type", "batch_id", "recipient", "code", "status", "at", "client_reference",
                          "operator_status_at"}
    assert first["type"] == "recipient_delivery_report_sms" and first["client_reference"] == "camp:7"
    assert first["batch_id"] == batch["id"] and first["at"].endswith("Z") and len(first["at"]) == 24
    by_status = Counter((b["status"], b["code"]) for b in rx.bodies)
    assert set(by_status) <= {("Delivered", 0), ("Failed", 402), ("Expired", 406)}
    assert by_status[("Failed", 402)] > 50
    # The GET report says exactly what the callbacks said.
    from_get = {(s["status"], s["code"]): s["count"] for s in full["statuses"]}
    assert from_get == dict(by_status)
    said = {b["recipient"]: b["status"] for b in rx.bodies}
    assert {n for s in full["statuses"] for n in s["recipients"] if s["status"] == "Failed"} == \
        {n for n, st in said.items() if st == "Failed"}
    assert one["status"] == said[numbers[0]]
    assert stats["scheduled"] == 300 and stats["ok"] == 300 and stats["pending"] == 0


async def test_callbacks_wait_for_dispatch_and_delay() -> None:
    async with receiving(Receiver()) as rx, running(config(delay=0.3)) as sb:
        loop = asyncio.get_running_loop()
        started = loop.time()
        _s, batch = await post_batch(sb.url, {"to": ["46700000001"], "body": "hi",
                                              "delivery_report": "per_recipient_final", "callback_url": rx.url})
        early = await get_json(f"{sb.url}/xms/v1/p1/batches/{batch['id']}/delivery_report/46700000001")
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
        elapsed = loop.time() - started
    assert early["status"] == "Dispatched" and early["code"] == 401
    assert rx.bodies[0]["status"] == "Delivered" and 0.25 <= elapsed < 3


async def test_summary_callback_once_per_batch_when_all_final() -> None:
    async with receiving(Receiver()) as rx, running(config(failed_rate=0.5, delay_jitter=0.1)) as sb:
        _s, batch = await post_batch(sb.url, {"to": [f"4670000{i:04d}" for i in range(50)], "body": "hi",
                                              "delivery_report": "full", "callback_url": rx.url,
                                              "client_reference": "c:0"})
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
    assert len(rx.bodies) == 1
    report = rx.bodies[0]
    assert report["type"] == "delivery_report_sms" and report["batch_id"] == batch["id"]
    assert report["client_reference"] == "c:0" and report["total_message_count"] == 50
    assert sum(s["count"] for s in report["statuses"]) == 50
    assert {s["status"] for s in report["statuses"]} <= {"Delivered", "Failed"}
    assert all(len(s["recipients"]) == s["count"] for s in report["statuses"])


async def test_non_2xx_is_retried_with_backoff_and_4xx_is_not() -> None:
    async with receiving(Receiver(answers=[503, 500])) as rx, running(config(retry_initial=0.02)) as sb:
        await post_batch(sb.url, {"to": ["46700000001"], "body": "hi", "delivery_report": "per_recipient",
                                  "callback_url": rx.url})
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
        first = dict(sb.state.stats()["callbacks"])
    assert len(rx.bodies) == 1
    assert first["attempts"] == 3 and first["retried"] == 2 and first["ok"] == 1

    async with receiving(Receiver(answers=[404])) as rx, running(config()) as sb:
        await post_batch(sb.url, {"to": ["46700000001"], "body": "hi", "delivery_report": "per_recipient",
                                  "callback_url": rx.url})
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
        second = dict(sb.state.stats()["callbacks"])
    assert rx.bodies == [] and second["rejected"] == 1 and second["attempts"] == 1


async def test_gives_up_after_the_configured_retries() -> None:
    async with receiving(Receiver(answers=[500] * 10)) as rx, running(config(retries=2)) as sb:
        await post_batch(sb.url, {"to": ["46700000001"], "body": "hi", "delivery_report": "per_recipient",
                                  "callback_url": rx.url})
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
        stats = sb.state.stats()["callbacks"]
    assert stats["attempts"] == 3 and stats["given_up"] == 1 and stats["pending"] == 0


@pytest.mark.parametrize("url", ["http://10.0.0.1/cb", "https://example.com/cb", "ftp://127.0.0.1/x"])
async def test_refuses_to_call_back_anywhere_but_loopback(url: str) -> None:
    async with running(config()) as sb:
        status, body = await post_batch(sb.url, {"to": ["46700000001"], "body": "hi",
                                                 "delivery_report": "per_recipient", "callback_url": url})
        stats = sb.state.stats()
    assert status == 400 and "loopback" in body["text"]
    assert stats["callbacks"]["refused"] == 1 and stats["plans"]["p1"]["batches"] == 0


async def test_no_delivery_report_means_no_callback_even_with_a_url() -> None:
    async with receiving(Receiver()) as rx, running(config()) as sb:
        status, _ = await post_batch(sb.url, {"to": ["46700000001"], "body": "hi", "callback_url": rx.url})
        await asyncio.sleep(0.05)
        stats = sb.state.stats()["callbacks"]
    assert status == 201 and rx.bodies == [] and stats["scheduled"] == 0


async def test_callbacks_are_signed_when_the_plan_has_a_secret() -> None:
    cfg = config()
    cfg = SandboxConfig(plans={"p1": SandboxPlan(callback_secret="s3cret")}, delivery=cfg.delivery)
    async with receiving(Receiver()) as rx, running(cfg) as sb:
        await post_batch(sb.url, {"to": ["46700000001"], "body": "hi", "delivery_report": "per_recipient",
                                  "callback_url": rx.url})
        sender = sender_of(sb.app)
        assert sender is not None
        await asyncio.wait_for(sender.drained(), 5)
    import time

    assert verify_webhook_hmac("s3cret", rx.raw[0], rx.headers[0], time.time())
    assert not verify_webhook_hmac("other", rx.raw[0], rx.headers[0], time.time())


async def test_cancelled_before_dispatch_is_cancelled_407() -> None:
    cfg = SandboxConfig(plans={"p1": SandboxPlan(rate=10, burst=10, mode="queue")})
    async with running(cfg) as sb:
        _s, first = await post_batch(sb.url, {"to": [f"4670000{i:04d}" for i in range(100)], "body": "x"})
        _s, second = await post_batch(sb.url, {"to": ["46800000001"], "body": "y"})
        async with aiohttp.ClientSession() as s:
            async with s.delete(f"{sb.url}/xms/v1/p1/batches/{second['id']}", headers=HEADERS) as r:
                assert r.status == 200
        report = await get_json(f"{sb.url}/xms/v1/p1/batches/{second['id']}/delivery_report/46800000001")
    # Sinch: 407 Cancelled (408 is "internal reject", which the sandbox used to answer)
    assert (report["code"], report["status"]) == (407, "Cancelled") and first["id"] != second["id"]


async def test_a_create_answer_starts_with_the_id_and_echoes_the_request() -> None:
    async with running(config()) as sb:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{sb.url}/xms/v1/p1/batches", headers=HEADERS, data=orjson.dumps(
                    {"to": ["46700000001"], "body": "hi", "client_reference": "c:0", "id": "mine"})) as r:
                raw = await r.read()
    answer = orjson.loads(raw)
    assert raw.startswith(b'{"id":"') and answer["id"] != "mine"  # Sinch's order; a request's own id never wins
    assert answer["to"] == ["46700000001"] and answer["client_reference"] == "c:0" and answer["canceled"] is False
