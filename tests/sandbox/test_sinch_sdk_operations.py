"""Every SMS operation of the official ``sinch`` Python SDK (v2.3) against the
sandbox: batches (send text and binary, list, get, replace, update, cancel,
dry run, delivery feedback), delivery reports (get, get for a number, list),
inbounds (list, get), groups (CRUD, members, sending to a group), and MMS as
a JSON 400. The SDK is synchronous: each step runs in a thread while the
sandbox serves in the test's event loop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web

from bulksend.sandbox import SandboxConfig, SandboxPlan

PLAN = "sdk"
TOKEN = "sdk-token"


def _sms(url: str) -> Any:
    from sinch import SinchClient

    client = SinchClient(service_plan_id=PLAN, sms_api_token=TOKEN, sms_region="us")
    client.configuration.sms_domain_with_service_plan_id = url  # instead of https://us.sms.api.sinch.com
    return client.sms


def _refusal(call: Callable[[], Any]) -> tuple[int | None, Any]:
    """(status, JSON body) of a call the SDK raises for."""
    from sinch.core.exceptions import SinchException

    with pytest.raises(SinchException) as caught:
        call()
    return caught.value.response_status_code, caught.value.http_response.body


async def run(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(step, *args, **kwargs)


class Inbox:
    """A callback receiver on 127.0.0.1 (inbound messages end up here)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(orjson.loads(await request.read()))
        return web.Response(status=200)

    async def __aenter__(self) -> Inbox:
        app = web.Application()
        app.router.add_post("/cb", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/cb"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_batches_through_the_sdk(sandbox) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with sandbox(SandboxConfig(plans={PLAN: SandboxPlan(token=TOKEN)})) as sb:
        sms = _sms(sb.url)
        sent = await run(sms.batches.send_sms, to=["+46701234567", "0046701234568"], from_="+46700000000",
                         body="Hi ${name}", parameters={"name": {"+46701234567": "Ann", "default": "you"}},
                         send_at=tomorrow, client_reference="sdk:1", feedback_enabled=True)
        # numbers back without + or 00; flash_message false and expire_at send_at + 3 days by default
        assert sent.to == ["46701234567", "46701234568"] and sent.from_ == "46700000000"
        assert sent.flash_message is False and sent.canceled is False
        assert sent.expire_at - sent.send_at == timedelta(days=3)
        binary = await run(sms.batches.send_binary, to=["46701234569"], from_="Brand",
                           body=base64.b64encode(b"\x01\x02hello").decode(), udh="050003010201")
        assert binary.type == "mt_binary" and binary.udh == "050003010201"

        got = await run(sms.batches.get, batch_id=sent.id)
        assert got.id == sent.id and got.parameters == sent.parameters and got.send_at == sent.send_at
        listed = [b.id for b in await run(lambda: list(sms.batches.list(page_size=1).iterator()))]
        assert listed == [binary.id, sent.id]  # newest first, every page walked

        updated = await run(sms.batches.update_sms, batch_id=sent.id, to_add=["+46701234570"],
                            to_remove=["46701234568"], body="Hello ${name}")
        assert updated.to == ["46701234567", "46701234570"] and updated.body == "Hello ${name}"
        assert updated.created_at == sent.created_at and updated.modified_at >= sent.modified_at
        replaced = await run(sms.batches.replace_sms, batch_id=sent.id, to=["+46701234571"], from_="Brand",
                             body="Replaced", send_at=tomorrow)
        assert (replaced.id, replaced.to, replaced.body, replaced.from_) == (sent.id, ["46701234571"], "Replaced",
                                                                             "Brand")
        assert replaced.delivery_report == "none" and replaced.feedback_enabled is None

        dry = await run(sms.batches.dry_run_sms, to=["+46701234567", "+46701234568"], from_="Brand",
                        body="Hello ${name}!", parameters={"name": {"+46701234567": "John", "default": "there"}},
                        per_recipient=True)
        assert dry.number_of_recipients == 2 and dry.number_of_messages == 2
        assert {(r.recipient, r.body, r.encoding) for r in dry.per_recipient} == {
            ("46701234567", "Hello John!", "text"), ("46701234568", "Hello there!", "text")}

        assert await run(sms.batches.send_delivery_feedback, batch_id=binary.id, recipients=["+46701234569"]) is None
        cancelled = await run(sms.batches.cancel, batch_id=sent.id)
        assert cancelled.canceled is True
        report = await run(sms.delivery_reports.get_for_number, batch_id=sent.id, recipient="+46701234571")
        # cancelled before its send_at: nothing delivered, Sinch's 407 Cancelled
        assert (report.recipient, report.code, report.status) == ("46701234571", 407, "Cancelled")
        status, body = await run(_refusal, lambda: sms.batches.send_mms(
            to=["46701234567"], from_="Brand", body={"url": "https://example.com/a.jpg"}))
        assert status == 400 and body["code"] == "syntax_constraint_violation" and "MMS" in body["text"]


async def test_delivery_reports_through_the_sdk(sandbox) -> None:
    async with sandbox(SandboxConfig(plans={PLAN: SandboxPlan(token=TOKEN)})) as sb:
        sms = _sms(sb.url)
        sent = await run(sms.batches.send_sms, to=["46701234567", "46701234568"], from_="Brand", body="x",
                         client_reference="dr:1")
        await asyncio.sleep(0.01)  # 2 recipients at 1000/s: dispatched within 2 ms, final at once
        summary = await run(sms.delivery_reports.get, batch_id=sent.id, status=["DELIVERED", "FAILED"], code=[0])
        assert summary.batch_id == sent.id and summary.client_reference == "dr:1"
        assert [(s.code, s.status, s.count, s.recipients) for s in summary.statuses] == [(0, "Delivered", 2, None)]
        none = await run(sms.delivery_reports.get, batch_id=sent.id, status=["FAILED"])
        assert none.statuses in ([], None) and none.total_message_count == 2
        full = await run(sms.delivery_reports.get, batch_id=sent.id, report_type="full")
        assert full.statuses[0].recipients == ["46701234567", "46701234568"]
        one = await run(sms.delivery_reports.get_for_number, batch_id=sent.id, recipient="+46701234568")
        assert one.recipient == "46701234568" and one.client_reference == "dr:1"
        assert one.operator_status_at is not None and one.at is not None
        reports = await run(lambda: list(sms.delivery_reports.list(page_size=1, status=["DELIVERED"]).iterator()))
        assert sorted(r.recipient for r in reports) == ["46701234567", "46701234568"]


async def test_inbounds_and_groups_through_the_sdk(sandbox) -> None:
    async with Inbox() as inbox:
        plan = SandboxPlan(token=TOKEN, callback_url=inbox.url)
        async with sandbox(SandboxConfig(plans={PLAN: plan})) as sb:
            sms = _sms(sb.url)
            group = await run(sms.groups.create, name="Customers", members=["+46701234567", "46701234568"])
            assert group.size == 2 and group.name == "Customers"
            sent = await run(sms.batches.send_sms, to=[group.id], from_="Brand", body="Hi group",
                             client_reference="g:1")
            assert sent.to == [group.id]
            assert sorted(sb.state.plans[PLAN].batches[sent.id].to) == ["46701234567", "46701234568"]
            status, body = await run(_refusal, lambda: sms.batches.send_sms(
                to=["01SBG000000000000000009999"], from_="Brand", body="x"))
            assert (status, body["code"]) == (403, "unknown_group")

            other = await run(sms.groups.create, name="More", members=["46701234599"])
            changed = await run(sms.groups.update, group_id=group.id, add=["46701234569"], remove=["46701234567"],
                                add_from_group=other.id, name="Renamed")
            assert (changed.name, changed.size) == ("Renamed", 3)
            members = await run(lambda: sms.groups.list_members(group_id=group.id).content())
            assert sorted(members) == ["46701234568", "46701234569", "46701234599"]
            replaced = await run(sms.groups.replace, group_id=group.id, name="Only", members=["+46701234500"])
            assert (replaced.name, replaced.size) == ("Only", 1)
            assert {g.id for g in await run(lambda: list(sms.groups.list(page_size=1).iterator()))} == {
                group.id, other.id}
            assert await run(sms.groups.delete, group_id=other.id) is None
            assert (await run(_refusal, lambda: sms.groups.get(group_id=other.id)))[0] == 404

            stop = sb.inbound(PLAN, "+46701234568", "STOP")
            assert stop["type"] == "mo_text" and stop["from"] == "46701234568" and stop["to"] == "Brand"
            assert stop["client_reference"] == "g:1"  # a reply to the batch sent to that number
            await sb.app[_sender_key()].drained()
            assert inbox.bodies == [stop]
            got = await run(sms.inbounds.get, inbound_id=stop["id"])
            assert (got.id, got.from_, got.body) == (stop["id"], "46701234568", "STOP")
            listed = await run(lambda: list(sms.inbounds.list(to=["Brand"]).iterator()))
            assert [m.id for m in listed] == [stop["id"]]


def _sender_key() -> Any:
    from bulksend.sandbox.delivery import SENDER

    return SENDER
