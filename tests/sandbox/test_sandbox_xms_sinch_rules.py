"""The sandbox's XMS API against Sinch's documented rules (providers.md §1, §6):
the clock control ("tomorrow"), send_at holding dispatch and delivery, the
batch list window and order, report filters, validation, and Sinch's JSON
error shape on every error, unknown routes and wrong methods included."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bulksend.sandbox import SandboxConfig, SandboxPlan

AUTH = {"Authorization": "Bearer t"}
PLAN = "p1"
DAY = 86400


def config() -> SandboxConfig:
    return SandboxConfig(plans={PLAN: SandboxPlan()})


async def call(s: aiohttp.ClientSession, method: str, url: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with s.request(method, url, json=body, headers=AUTH if headers is None else headers) as r:
        return r.status, await r.json(content_type=None)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_send_at_holds_delivery_until_the_clock_is_advanced_past_it(sandbox) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        _, batch = await call(s, "POST", base, {"to": ["+46701234567"], "body": "x", "send_at": iso(tomorrow)})
        assert batch["to"] == ["46701234567"] and batch["send_at"] == iso(tomorrow)
        assert batch["expire_at"] == iso(tomorrow + timedelta(days=3)) and batch["flash_message"] is False
        report = f"{base}/{batch['id']}/delivery_report/%2B46701234567"  # "+" in the path is accepted
        assert (await call(s, "GET", report))[1]["status"] == "Queued"
        status, clock = await call(s, "POST", f"{sb.url}/_sandbox/clock", {"advance": DAY + 60}, headers={})
        assert status == 200 and clock["offset"] == DAY + 60
        _, after = await call(s, "GET", report)
        assert (after["code"], after["status"]) == (0, "Delivered")
        delivered_at = datetime.fromisoformat(after["at"].replace("Z", "+00:00"))
        assert delivered_at >= tomorrow.replace(microsecond=0) and after["operator_status_at"] == after["at"]
        # "tomorrow" the batch is older than the list's default window of 24 hours ... but not of 2 days
        _, page = await call(s, "GET", base)
        assert page["count"] == 0
        since = iso(datetime.now(UTC) - timedelta(days=1))
        _, page = await call(s, "GET", f"{base}?start_date={since}")
        assert [b["id"] for b in page["batches"]] == [batch["id"]]
        bad = await call(s, "POST", f"{sb.url}/_sandbox/clock", {"advance": -1}, headers={})
        assert bad[0] == 400 and bad[1]["code"] == "syntax_invalid_parameter_format"


async def test_cancel_before_send_at_delivers_nothing(sandbox) -> None:
    tomorrow = iso(datetime.now(UTC) + timedelta(days=1))
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        _, batch = await call(s, "POST", base, {"to": ["46701234567", "46701234568"], "body": "x",
                                                "send_at": tomorrow})
        await call(s, "DELETE", f"{base}/{batch['id']}")
        sb.advance(2 * DAY)
        _, full = await call(s, "GET", f"{base}/{batch['id']}/delivery_report?type=full")
        assert [(st["code"], st["status"], st["count"]) for st in full["statuses"]] == [(407, "Cancelled", 2)]
        _, only = await call(s, "GET", f"{base}/{batch['id']}/delivery_report?status=Delivered")
        assert only["statuses"] == []
        _, by_code = await call(s, "GET", f"{base}/{batch['id']}/delivery_report?code=407,0")
        assert [st["code"] for st in by_code["statuses"]] == [407]


async def test_list_is_newest_first_within_14_days(sandbox) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        ids = [(await call(s, "POST", base, {"to": ["46701234567"], "body": str(i)}))[1]["id"] for i in range(3)]
        _, page = await call(s, "GET", f"{base}?page_size=2")
        assert [b["id"] for b in page["batches"]] == ids[:0:-1] and page["count"] == 3 and page["page_size"] == 2
        sb.advance(20 * DAY)
        long_ago = iso(datetime.now(UTC) - timedelta(days=30))
        _, page = await call(s, "GET", f"{base}?start_date={long_ago}")
        assert page["count"] == 0  # at most 14 days back, whatever start_date says
        _, bad = await call(s, "GET", f"{base}?start_date=yesterday")
        assert bad["code"] == "syntax_invalid_parameter_format"


@pytest.mark.parametrize(("change", "code", "text"), [
    ({"send_at": "2030-01-02T00:00:00Z", "expire_at": "2030-01-01T00:00:00Z"},
     "syntax_invalid_parameter_format", "expire_at: must be after send_at"),
    ({"send_at": "tomorrow"}, "syntax_invalid_parameter_format", "send_at: 'tomorrow' is not an ISO-8601"),
    ({"type": "mt_fax"}, "syntax_invalid_parameter_format", "type: 'mt_fax' is not one of"),
    ({"type": "mt_media"}, "syntax_constraint_violation", "type: mt_media (MMS) is not supported"),
    ({"type": "mt_binary", "body": "not base64!", "udh": "00"}, "syntax_invalid_parameter_format",
     "body: an mt_binary body must be Base64"),
    ({"type": "mt_binary", "body": "aGk=", "udh": "xyz"}, "syntax_invalid_parameter_format",
     "udh: an mt_binary batch needs a hex-encoded udh"),
    ({"type": "mt_binary", "body": base64.b64encode(b"x" * 140).decode(), "udh": "0500030102"},
     "syntax_constraint_violation", "body: body and udh together at most 140 bytes"),
    ({"callback_url": "x" * 10}, "syntax_constraint_violation", "callback_url: the sandbox only calls back"),
    ({"client_reference": "r" * 2049}, "syntax_invalid_parameter_format", "client_reference: a string of at most"),
    ({"from_ton": 7}, "syntax_invalid_parameter_format", "from_ton: must be an integer from 0 to 6"),
    ({"flash_message": "yes"}, "syntax_invalid_parameter_format", "flash_message: must be true or false"),
])
async def test_validation_as_sinch_documents_it(sandbox, change: dict[str, Any], code: str, text: str) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        status, answer = await call(s, "POST", f"{sb.url}/xms/v1/{PLAN}/batches",
                                    {"to": ["46701234567"], "body": "x", **change})
    assert (status, answer["code"]) == (400, code) and answer["text"].startswith(text), answer


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/xms/v1/p1/nothing"), ("PATCH", "/xms/v1/p1/batches"), ("GET", "/no/such/route"),
    ("DELETE", "/xms/v1/p1/inbounds"), ("GET", "/xms/v1/p1/groups/01SBG000000000000000000404"),
])
async def test_every_error_is_sinch_json(sandbox, method: str, path: str) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        async with s.request(method, sb.url + path, headers=AUTH) as r:
            kind, answer = r.content_type, await r.json(content_type=None)
    assert kind == "application/json" and set(answer) == {"code", "text"}
    assert answer["code"] in ("not_found", "method_not_allowed")


async def test_update_and_replace_keep_id_and_creation(sandbox) -> None:
    async with sandbox(config()) as sb, aiohttp.ClientSession() as s:
        base = f"{sb.url}/xms/v1/{PLAN}/batches"
        _, batch = await call(s, "POST", base, {"to": ["46701234567"], "body": "a", "client_reference": "r1"})
        _, updated = await call(s, "POST", f"{base}/{batch['id']}", {"to_add": ["+46701234568"], "body": "b",
                                                                     "client_reference": "r2"})
        assert updated["to"] == ["46701234567", "46701234568"] and updated["body"] == "b"
        _, by_ref = await call(s, "GET", f"{base}?client_reference=r2")
        assert [b["id"] for b in by_ref["batches"]] == [batch["id"]]
        status, replaced = await call(s, "PUT", f"{base}/{batch['id']}", {"to": ["46701234569"], "body": "c"})
        assert status == 200 and replaced["id"] == batch["id"] and replaced["created_at"] == batch["created_at"]
        assert "client_reference" not in replaced and replaced["to"] == ["46701234569"]
        status, bad = await call(s, "POST", f"{base}/{batch['id']}", {"to_remove": ["46701234569"]})
        assert (status, bad["code"]) == (400, "syntax_constraint_violation")
