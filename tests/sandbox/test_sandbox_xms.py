"""The sandbox's Sinch XMS batch API, request by request, on 127.0.0.1:
create (with Sinch's validation codes), get, list with a client_reference
filter, cancel, dry_run, delivery reports, auth, reject mode and the stats
endpoint; then the official Sinch Python SDK against it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bulksend.sandbox import SandboxConfig, SandboxPlan

AUTH = {"Authorization": "Bearer sandbox"}
PLAN = "p1"


def config(**plan: Any) -> SandboxConfig:
    return SandboxConfig(plans={PLAN: SandboxPlan(**plan)})


async def call(session: aiohttp.ClientSession, method: str, url: str, *, json: Any = None,
               headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, Any, Any]:
    async with session.request(method, url, json=json, data=data, headers=AUTH if headers is None else headers) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_create_get_list_cancel(sandbox) -> None:
    batch = {"to": ["+46 70-123 45 67", "46701234568"], "from": "Brand", "body": "Hi ${name}",
             "parameters": {"name": {"46701234567": "Ann", "default": "you"}},
             "client_reference": "spring:0", "delivery_report": "summary"}
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        status, created, _ = await call(s, "POST", base, json=batch)
        assert status == 201
        assert list(created)[0] == "id"  # the id first, then the request echoed
        assert created["to"] == ["46701234567", "46701234568"]  # normalized
        assert {k: created[k] for k in ("from", "body", "parameters", "client_reference", "delivery_report")} == {
            k: batch[k] for k in ("from", "body", "parameters", "client_reference", "delivery_report")}
        assert created["type"] == "mt_text" and created["canceled"] is False
        assert created["created_at"].endswith("Z") and created["modified_at"] == created["created_at"]

        status, got, _ = await call(s, "GET", f"{base}/{created['id']}")
        assert status == 200 and got == created

        await call(s, "POST", base, json={**batch, "client_reference": "spring:1"})
        status, page, _ = await call(s, "GET", f"{base}?client_reference=spring:0")
        assert status == 200 and page["count"] == 1 and page["page"] == 0
        assert [b["id"] for b in page["batches"]] == [created["id"]]
        status, page, _ = await call(s, "GET", f"{base}?client_reference=nobody")
        assert (status, page["count"], page["batches"]) == (200, 0, [])
        status, page, _ = await call(s, "GET", f"{base}?page=1&page_size=1")
        # newest first, as Sinch lists: page 1 of size 1 is the older batch
        assert page["count"] == 2 and page["page_size"] == 1 and page["batches"][0]["client_reference"] == "spring:0"
        status, bad, _ = await call(s, "GET", f"{base}?page=x")
        assert status == 400 and bad["code"] == "syntax_invalid_parameter_format"

        status, cancelled, _ = await call(s, "DELETE", f"{base}/{created['id']}")
        assert status == 200 and cancelled["canceled"] is True and cancelled["id"] == created["id"]
        status, missing, _ = await call(s, "GET", f"{base}/01NOSUCHBATCH")
        assert (status, missing["code"]) == (404, "not_found")


@pytest.mark.parametrize(("batch", "code", "text"), [
    ({"to": [], "body": "x"}, "syntax_constraint_violation", "to: must contain at least one recipient"),
    ({"to": ["46701234567"] * 1001, "body": "x"}, "syntax_constraint_violation", "to: at most 1000"),
    ({"to": ["46701234567"]}, "syntax_constraint_violation", "body: must be a string"),
    ({"to": ["46701234567"], "body": "x" * 2001}, "syntax_constraint_violation", "body: at most 2000"),
    ({"to": ["12"], "body": "x"}, "syntax_invalid_parameter_format", "to: invalid MSISDN '12'"),
    ({"to": ["46701234567"], "body": "x", "delivery_report": "always"},
     "syntax_invalid_parameter_format", "delivery_report: 'always' is not one of"),
    ({"to": ["46701234567"], "body": "x", "from": "ThisSenderIsFarTooLong"},
     "syntax_invalid_parameter_format", "from: alphanumeric sender over 11 characters"),
    ({"to": ["46701234567"], "body": "x", "parameters": {"name": "Ann"}},
     "syntax_invalid_parameter_format", "parameters.name: must map MSISDN or 'default' to a string"),
    ([1, 2], "syntax_invalid_json", "The request body must be a JSON object"),
])
async def test_create_refuses_what_sinch_refuses(sandbox, batch: Any, code: str, text: str) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        status, answer, _ = await call(s, "POST", f"{sb.url}/xms/v1/{PLAN}/batches", json=batch)
        stats = sb.state.plans[PLAN].stats
    assert status == 400 and answer["code"] == code and answer["text"].startswith(text), answer
    assert stats.bad_requests == 1 and stats.batches == 0


async def test_invalid_json_auth_and_unknown_plan(sandbox) -> None:
    async with sandbox(config(token="right")) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        ok = {"Authorization": "Bearer right"}
        status, answer, _ = await call(s, "POST", base, data=b"{not json", headers=ok)
        assert (status, answer["code"]) == (400, "syntax_invalid_json")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic right"}):
            status, answer, _ = await call(s, "POST", base, json={"to": ["46701234567"], "body": "x"}, headers=headers)
            assert (status, answer["code"]) == (401, "unauthorized")
        status, answer, _ = await call(s, "GET", f"{sb.url}/xms/v1/nobody/batches", headers=ok)
        assert (status, answer["code"]) == (404, "not_found")
        assert sb.state.plans[PLAN].stats.unauthorized == 3


async def test_dry_run_counts_parts_without_taking_the_batch(sandbox) -> None:
    batch = {"to": ["46701234567", "46701234568", "46701234569"], "body": "Hi ${name} " + "x" * 160,
             "parameters": {"name": {"46701234567": "Ann", "default": "you"}}}
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        url = f"{sb.url}/xms/v1/{PLAN}/batches/dry_run"
        status, plain, _ = await call(s, "POST", url, json=batch)
        assert status == 200 and plain == {"number_of_recipients": 3, "number_of_messages": 6}
        # "True" is how the official Python SDK writes a bool into the query
        for flag in ("true", "True"):
            status, per, _ = await call(s, "POST", f"{url}?per_recipient={flag}&number_of_recipients=2", json=batch)
            assert status == 200 and len(per["per_recipient"]) == 2
        assert per["per_recipient"][0] == {"recipient": "46701234567", "body": "Hi Ann " + "x" * 160,
                                           "number_of_parts": 2, "encoding": "text"}
        assert per["per_recipient"][1]["body"].startswith("Hi you ")
        status, bad, _ = await call(s, "POST", f"{url}?number_of_recipients=many", json=batch)
        assert (status, bad["code"]) == (400, "syntax_invalid_parameter_format")
        assert sb.state.plans[PLAN].stats.batches == 0 and not sb.state.plans[PLAN].batches


async def test_delivery_reports_summary_full_and_per_number(sandbox) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        _, created, _ = await call(s, "POST", base, json={"to": ["46701234567", "46701234568"], "body": "x",
                                                          "client_reference": "c:0"})
        report_url = f"{base}/{created['id']}/delivery_report"
        status, summary, _ = await call(s, "GET", report_url)
        assert status == 200 and summary["type"] == "delivery_report_sms"
        assert summary["batch_id"] == created["id"] and summary["client_reference"] == "c:0"
        assert summary["total_message_count"] == 2
        assert sum(st["count"] for st in summary["statuses"]) == 2
        assert all("recipients" not in st for st in summary["statuses"])
        status, full, _ = await call(s, "GET", report_url + "?type=full")
        assert sorted(n for st in full["statuses"] for n in st["recipients"]) == ["46701234567", "46701234568"]
        status, one, _ = await call(s, "GET", f"{report_url}/46701234567")
        assert status == 200 and one["recipient"] == "46701234567" and one["batch_id"] == created["id"]
        status, bad, _ = await call(s, "GET", report_url + "?type=weekly")
        assert status == 400 and bad["code"] == "syntax_invalid_parameter_format"


async def test_reject_mode_answers_429_with_retry_after_and_queue_mode_never_does(sandbox) -> None:
    plans = {"strict": SandboxPlan(rate=100, burst=10, mode="reject"),
             "lenient": SandboxPlan(rate=100, burst=10, mode="queue")}
    batch = {"to": [str(46701234500 + i) for i in range(10)], "body": "x"}
    async with sandbox(SandboxConfig(plans=plans)) as sb, aiohttp.ClientSession() as s:
        first = await call(s, "POST", f"{sb.url}/xms/v1/strict/batches", json=batch)
        status, answer, headers = await call(s, "POST", f"{sb.url}/xms/v1/strict/batches", json=batch)
        assert first[0] == 201
        assert (status, answer["code"]) == (429, "too_many_requests")
        assert 0 < float(headers["Retry-After"]) <= 0.1  # 10 tokens at 100/s
        for _ in range(3):
            assert (await call(s, "POST", f"{sb.url}/xms/v1/lenient/batches", json=batch))[0] == 201
        stats = sb.state.stats()["plans"]
    assert stats["strict"]["rate_limited"] == 1 and stats["strict"]["recipients"] == 10
    assert stats["lenient"]["rate_limited"] == 0 and stats["lenient"]["recipients"] == 30


async def test_stats_endpoint_counts_every_receipt_of_every_number(sandbox) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        await call(s, "POST", base, json={"to": ["46701234567", "46701234568"], "body": "x"})
        await call(s, "POST", base, json={"to": ["46701234567"], "body": "x"})
        status, stats, _ = await call(s, "GET", f"{sb.url}/_sandbox/stats?numbers=1", headers={})
    plan = stats["plans"][PLAN]
    assert status == 200
    assert (plan["batches"], plan["recipients"], plan["rate_limited"]) == (2, 3, 0)
    assert (plan["distinct_numbers"], plan["numbers_received_more_than_once"], plan["max_receipts_per_number"]) == (2, 1, 2)
    assert plan["received"] == {"46701234567": 2, "46701234568": 1}


# -- the official Sinch Python SDK (sinch on PyPI), pointed at the sandbox --

def _sdk_session(url: str, token: str) -> Any:
    from sinch import SinchClient

    client = SinchClient(service_plan_id=PLAN, sms_api_token=token, sms_region="us")
    client.configuration.sms_domain_with_service_plan_id = url  # instead of https://us.sms.api.sinch.com
    return client.sms


def _sdk_round_trip(url: str) -> dict[str, Any]:
    from sinch.core.exceptions import SinchException

    sms = _sdk_session(url, "right")
    sent = sms.batches.send_sms(to=["46701234567", "46701234568"], from_="Brand", body="Hi ${name}",
                                parameters={"name": {"46701234567": "Ann", "default": "you"}},
                                client_reference="sdk:0", delivery_report="summary")
    got = sms.batches.get(batch_id=sent.id)
    listed = list(sms.batches.list(client_reference="sdk:0").iterator())
    report = sms.delivery_reports.get(batch_id=sent.id, type_="summary")
    one = sms.delivery_reports.get_for_number(batch_id=sent.id, recipient="46701234567")
    dry = sms.batches.dry_run_sms(to=["46701234567"], from_="Brand", body="Hi", per_recipient=True)
    cancelled = sms.batches.cancel(batch_id=sent.id)
    refused: list[tuple[int | None, Any]] = []
    try:
        sms.batches.send_sms(to=["12"], from_="Brand", body="Hi")
    except SinchException as exc:
        refused.append((exc.response_status_code, exc.http_response.body))
    try:
        _sdk_session(url, "wrong").batches.send_sms(to=["46701234567"], from_="Brand", body="Hi")
    except SinchException as exc:
        refused.append((exc.response_status_code, exc.http_response.body))
    return {"sent": sent, "got": got, "listed": listed, "report": report, "one": one, "dry": dry,
            "cancelled": cancelled, "refused": refused}


async def test_the_official_sinch_sdk_talks_to_the_sandbox(sandbox) -> None:
    async with sandbox(config(token="right")) as sb:
        r = await asyncio.to_thread(_sdk_round_trip, sb.url)
        received = sb.state.plans[PLAN].snapshot(with_numbers=True)["received"]
    sent = r["sent"]
    assert sent.id and sent.to == ["46701234567", "46701234568"] and sent.from_ == "Brand"
    assert sent.parameters == {"name": {"46701234567": "Ann", "default": "you"}} and sent.canceled is False
    assert r["got"].id == sent.id and r["got"].client_reference == "sdk:0"
    assert [b.id for b in r["listed"]] == [sent.id]
    assert r["report"].batch_id == sent.id and r["report"].total_message_count == 2
    assert r["one"].recipient == "46701234567"
    assert r["dry"].number_of_recipients == 1 and r["dry"].per_recipient[0].recipient == "46701234567"
    assert r["cancelled"].canceled is True
    assert r["refused"][0][0] == 400 and r["refused"][0][1]["code"] == "syntax_invalid_parameter_format"
    assert r["refused"][1][0] == 401
    assert received == {"46701234567": 1, "46701234568": 1}
