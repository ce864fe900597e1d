"""The sandbox controls (clock, inbound messages) and the rest of the
Clickatell and Classic APIs their public clients call: callbacks held by
send_at until the clock passes it, STOP replies posted to the plan's callback
(XMS mo_text and Classic incomingSms, signed), Clickatell stop/balance/coverage."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bulksend.providers.signing import verify_classic
from bulksend.sandbox import SandboxConfig, SandboxPlan
from bulksend.sandbox.config import DeliverySim
from bulksend.sandbox.delivery import SENDER
from bulksend.webhooks.parse import parse_classic, parse_xms

AUTH = {"Authorization": "Bearer t"}
CLICKATELL = {**AUTH, "X-Version": "1", "Accept": "application/json"}


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, list[tuple[bytes, dict[str, str], str]]]]:
    got: list[tuple[bytes, dict[str, str], str]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((await request.read(), dict(request.headers), request.path))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/cb", got
    finally:
        await runner.cleanup()


async def test_per_recipient_callbacks_wait_for_send_at_then_come_when_the_clock_passes_it(sandbox) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    async with receiver() as (url, got), sandbox(SandboxConfig(plans={"p1": SandboxPlan()})) as sb:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{sb.url}/xms/v1/p1/batches", headers=AUTH, json={
                    "to": ["46701234567"], "body": "x", "send_at": tomorrow,
                    "delivery_report": "per_recipient", "callback_url": url}) as r:
                assert r.status == 201
        assert sb.state.callbacks.pending == 1 and got == []
        sb.advance(86400 + 5)
        await sb.app[SENDER].drained()
    report = parse_xms(got[0][0])
    assert len(got) == 1 and report.statuses[0].provider_status == "Delivered"
    assert report.statuses[0].at is not None and report.statuses[0].at >= datetime.now(UTC).timestamp()


async def test_stop_reply_through_the_http_control_reaches_the_callback(sandbox) -> None:
    async with receiver() as (url, got):
        plan = SandboxPlan(callback_url=url)
        async with sandbox(SandboxConfig(plans={"p1": plan})) as sb, aiohttp.ClientSession() as s:
            async with s.post(f"{sb.url}/_sandbox/inbound", json={"plan": "p1", "from": "+46701234567"}) as r:
                status, made = r.status, await r.json()
            async with s.post(f"{sb.url}/_sandbox/inbound", json={"plan": "nobody", "from": "1"}) as r:
                refused = r.status, await r.json()
            await sb.app[SENDER].drained()
            async with s.get(f"{sb.url}/xms/v1/p1/inbounds", headers=AUTH) as r:
                listed = await r.json()
    assert status == 201 and made["body"] == "STOP" and made["from"] == "46701234567"
    assert refused[0] == 400 and refused[1]["code"] == "syntax_invalid_parameter_format"
    inbound = parse_xms(got[0][0]).inbound[0]
    assert (inbound.sender, inbound.body, inbound.message_id) == ("46701234567", "STOP", made["id"])
    assert listed["count"] == 1 and listed["inbounds"] == [made]


async def test_classic_incoming_sms_is_signed_like_sinch_signs_callbacks(sandbox) -> None:
    async with receiver() as (url, got):
        plan = SandboxPlan(callback_url=url, key="app-key", secret="c2VjcmV0")
        async with sandbox(SandboxConfig(plans={"c1": plan})) as sb:
            event = sb.inbound("c1", "46701234567", "STOP", api="classic", to="46700000000")
            await sb.app[SENDER].drained()
    body, headers, path = got[0]
    assert event["event"] == "incomingSms" and event["from"] == {"type": "number", "endpoint": "+46701234567"}
    assert verify_classic("POST", path, body, headers, "app-key", "c2VjcmV0",
                          datetime.now(UTC).timestamp())
    inbound = parse_classic(body).inbound[0]
    assert (inbound.sender, inbound.recipient, inbound.body) == ("46701234567", "46700000000", "STOP")


async def test_clickatell_stop_balance_and_coverage(sandbox) -> None:
    plan = SandboxPlan(credit=10, reject_suffix="99")
    cfg = SandboxConfig(plans={"ck": plan}, delivery=DeliverySim(delay=60.0))
    async with sandbox(cfg) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/clickatell/ck/rest"

        async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with s.request(method, base + path, headers=CLICKATELL, json=body) as r:
                return r.status, orjson.loads(await r.read())

        _, sent = await call("POST", "/message", {"text": "hi", "to": ["46701234567", "46701234568"]})
        first, second = (m["apiMessageId"] for m in sent["data"]["message"])
        status, stopped = await call("DELETE", f"/message/{first}")
        assert status == 200 and stopped["data"]["messageStatus"] == "006"
        sb.advance(120)
        assert (await call("GET", f"/message/{first}"))[1]["data"]["messageStatus"] == "006"
        assert (await call("GET", f"/message/{second}"))[1]["data"]["messageStatus"] == "004"
        assert (await call("DELETE", f"/message/{second}"))[1]["data"]["messageStatus"] == "004"  # final: kept
        assert (await call("DELETE", "/message/nope"))[0] == 404
        assert await call("GET", "/account/balance") == (200, {"data": {"balance": 8}})
        assert (await call("GET", "/coverage/46701234567"))[1]["data"] == {
            "routable": True, "destination": "46701234567", "minimumCharge": 1}
        assert (await call("GET", "/coverage/46701234599"))[1]["data"]["routable"] is False
        status, bad = await call("GET", "/coverage/0123")
        assert status == 400 and bad["error"]["code"] == "105"
