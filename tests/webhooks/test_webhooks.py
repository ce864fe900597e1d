"""The webhook receiver: codecs as tables, the app against real requests on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from bulksend.providers import parse_config
from bulksend.delivery import DeliveryStatus, Sent, SqliteDeliveryStore
from bulksend.providers.signing import basic_auth, iso_timestamp, sign_classic, webhook_hmac_headers
from bulksend.webhooks import RunningListener, build_listener, listening
from bulksend.webhooks.parse import Malformed, parse_classic, parse_clickatell, parse_xms

SECRET = "BeIukql3pTKJ8RGL5zo0DA=="
ENV = {"CB": "shared-secret", "K": "app-key", "S": SECRET, "CT": "ct-pass"}
CONFIG = parse_config({"plans": {
    "xms": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 10},
    "xms_signed": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 10,
                   "callback_secret_env": "CB"},
    "classic": {"provider": "sinch_classic", "base_url": "http://127.0.0.1:1", "rate": 10, "max_batch": 1,
                "key_env": "K", "secret_env": "S"},
    "ct": {"provider": "clickatell", "base_url": "http://127.0.0.1:1", "rate": 10, "callback_secret_env": "CT"},
}})


def recipient_report(batch: str = "B1", to: str = "46700000001", status: str = "Delivered", **kw: Any) -> bytes:
    return orjson.dumps({"type": "recipient_delivery_report_sms", "batch_id": batch, "recipient": to,
                         "code": 0, "status": status, "at": "2026-01-01T10:00:05.000Z",
                         "client_reference": "camp:0", **kw})


# -- codecs -------------------------------------------------------------------
def test_xms_recipient_report() -> None:
    parsed = parse_xms(recipient_report(to="+46700000001", status="Expired", code=406))
    (event,) = parsed.statuses
    assert (event.ref.provider_id, event.ref.msisdn, event.ref.client_reference) == ("B1", "46700000001", "camp:0")
    assert event.status is DeliveryStatus.EXPIRED and event.code == "406"
    assert event.at == 1767261605.0


def test_xms_full_and_summary_reports() -> None:
    full = orjson.dumps({"type": "delivery_report_sms", "batch_id": "B", "client_reference": "c:1",
                         "total_message_count": 3, "statuses": [
                             {"code": 0, "status": "Delivered", "count": 2, "recipients": ["4611", "4612"]},
                             {"code": 402, "status": "Failed", "count": 1, "recipients": ["4613"]}]})
    parsed = parse_xms(full)
    assert [(e.ref.msisdn, e.status) for e in parsed.statuses] == [
        ("4611", DeliveryStatus.DELIVERED), ("4612", DeliveryStatus.DELIVERED), ("4613", DeliveryStatus.FAILED)]
    summary = orjson.dumps({"type": "delivery_report_sms", "batch_id": "B", "statuses": [
        {"code": 0, "status": "Delivered", "count": 2}]})
    assert parse_xms(summary).statuses == () and parse_xms(summary).kind == "batch_report"


def test_xms_inbound() -> None:
    body = orjson.dumps({"type": "mo_text", "id": "M1", "from": "46700000009", "to": "12345", "body": "STOP",
                         "received_at": "2026-01-01T10:00:00Z", "operator_id": "x"})
    (mo,) = parse_xms(body).inbound
    assert (mo.sender, mo.recipient, mo.body, mo.message_id) == ("46700000009", "12345", "STOP", "M1")


def test_classic_incoming_sms_documented_example() -> None:
    body = orjson.dumps({"event": "incomingSms", "to": {"type": "number", "endpoint": "+46700000000"},
                         "from": {"type": "number", "endpoint": "+46700000001"}, "message": "Hello world",
                         "timestamp": "2014-12-01T12:00:00Z", "version": 1})
    (mo,) = parse_classic(body).inbound
    assert (mo.sender, mo.recipient, mo.body, mo.at) == ("46700000001", "46700000000", "Hello world", 1417435200.0)


def test_clickatell_json_form_and_query() -> None:
    body = orjson.dumps({"data": {"apiMessageId": "abc", "to": "2799900001", "messageStatus": "004",
                                  "timestamp": 1417435200, "charge": 1}})
    (event,) = parse_clickatell(body, "application/json", {}).statuses
    assert (event.ref.provider_id, event.status, event.at) == ("abc", DeliveryStatus.DELIVERED, 1417435200.0)
    form = b"apiMsgId=abc&cliMsgId=&to=2799900001&timestamp=1417435200&status=10&charge=1"
    (event,) = parse_clickatell(form, "application/x-www-form-urlencoded", {}).statuses
    assert event.status is DeliveryStatus.EXPIRED and event.provider_status == "10"
    (event,) = parse_clickatell(b"", "", {"apiMsgId": "abc", "to": "2799900001", "status": "007"}).statuses
    assert event.status is DeliveryStatus.FAILED
    mo = parse_clickatell(b"", "", {"moMsgId": "m1", "from": "2799900001", "to": "123", "text": "stop"}).inbound
    assert mo[0].body == "stop"


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", b'{"type": "weird"}', b'{"type": "recipient_delivery_report_sms"}',
    b'{"type": "delivery_report_sms", "batch_id": "B", "statuses": [{"count": 1}]}',
])
def test_xms_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_xms(body)


# -- the app ------------------------------------------------------------------
@contextlib.asynccontextmanager
async def listener(tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[RunningListener, SqliteDeliveryStore]]:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("camp", "46700000001", "B1", time.time() - 5),
                                 Sent("camp", "46700000002", "B1", time.time() - 5),
                                 Sent("ctc", "2799900001", "api-1", time.time() - 5),
                                 Sent("clc", "46700000003", "77", time.time() - 5)])
        app = build_listener(CONFIG, store, env=ENV, resolve_wait=kw.pop("resolve_wait", 0.0), **kw)
        async with listening(app) as lst:
            yield lst, store


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=body, headers={"Content-Type": "application/json", **(headers or {})}) as r:
            return r.status, await r.json()


async def test_a_report_is_stored_once_and_final_wins(tmp_path: Path) -> None:
    async with listener(tmp_path) as (lst, store):
        url = lst.callback_url("xms")
        assert (await post(url, recipient_report(status="Delivered")))[0] == 200
        assert (await post(url, recipient_report(status="Dispatched", code=401)))[0] == 200  # late, non-final
        assert (await post(url, recipient_report(status="Delivered")))[0] == 200  # a retried duplicate
        reports = await store.reports_of("camp")
    assert [(r.msisdn, r.status) for r in reports] == [("46700000001", DeliveryStatus.DELIVERED)]


async def test_bad_callbacks_get_the_right_status_and_store_nothing(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="bulksend.listen")
    async with listener(tmp_path, max_body=64 * 1024) as (lst, store):
        xms, signed = lst.callback_url("xms"), lst.callback_url("xms_signed")
        assert (await post(xms, b'{"type": "recipient_delivery_report_sms", "batch_id": '))[0] == 400
        assert (await post(xms, b'{"type": "mystery"}'))[0] == 400
        assert (await post(xms, recipient_report(batch="NOPE", **{"client_reference": "other:1"})))[0] == 404
        assert (await post(xms, recipient_report(to="46799999999")))[0] == 404  # known batch, not its number
        huge = recipient_report()[:-1] + b', "pad": "' + b"x" * (70 * 1024) + b'"}'
        status, _ = await post(xms, huge)
        assert status == 413
        body = recipient_report()
        assert (await post(signed, body))[0] == 401  # unsigned where a secret is configured
        wrong = webhook_hmac_headers("not-the-secret", body, "n1", int(time.time()))
        assert (await post(signed, body, wrong))[0] == 401
        stale = webhook_hmac_headers("shared-secret", body, "n1", int(time.time()) - 3600)
        assert (await post(signed, body, stale))[0] == 401
        assert (await post(lst.callback_url("nosuchplan"), body))[0] == 404
        reports = await store.reports_of("camp")
        stats = lst.stats
    assert reports == []
    assert (stats.malformed, stats.unknown, stats.too_large, stats.unauthorized) == (2, 2, 1, 3)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "46700000001" not in logged and "shared-secret" not in logged and "refused" in logged


async def test_signed_xms_callback_is_taken(tmp_path: Path) -> None:
    async with listener(tmp_path) as (lst, store):
        body = recipient_report(status="Failed", code=402)
        headers = webhook_hmac_headers("shared-secret", body, "n2", int(time.time()))
        assert (await post(lst.callback_url("xms_signed"), body, headers))[0] == 200
        (report,) = await store.reports_of("camp")
    assert report.status is DeliveryStatus.FAILED and report.code == "402"


async def test_unknown_report_waits_for_its_send_to_be_recorded(tmp_path: Path) -> None:
    import asyncio

    async with listener(tmp_path, resolve_wait=2.0) as (lst, store):
        async def record_later() -> None:
            await asyncio.sleep(0.2)
            await store.record_sent([Sent("late", "46700000005", "B9", time.time())])

        task = asyncio.create_task(record_later())
        status, _ = await post(lst.callback_url("xms"), recipient_report(batch="B9", to="46700000005"))
        await task
        reports = await store.reports_of("late")
    assert status == 200 and len(reports) == 1


async def test_classic_incoming_sms_must_be_signed_and_flags_opt_outs(tmp_path: Path) -> None:
    async with listener(tmp_path) as (lst, store):
        url = lst.callback_url("classic")
        path = "/callbacks/classic"
        for text in ("  stop ", "Hello there"):
            body = orjson.dumps({"event": "incomingSms", "to": {"type": "number", "endpoint": "+46700000000"},
                                 "from": {"type": "number", "endpoint": "+46700000003"}, "message": text,
                                 "timestamp": "2014-12-01T12:00:00Z", "version": 1})
            headers = sign_classic("POST", path, body, "application/json", "app-key", SECRET,
                                   iso_timestamp(time.time()))
            assert (await post(url, body, headers))[0] == 200
        bad = sign_classic("POST", path, body, "application/json", "app-key", "AAAAAAAAAAAAAAAAAAAAAA==",
                           iso_timestamp(time.time()))
        status, answer = await post(url, body, bad)
        assert status == 401
        assert (await post(url, body))[0] == 401
        messages = await store.inbound()
        opt_outs = await store.inbound(opt_outs_only=True)
    assert [m.body for m in messages] == ["  stop ", "Hello there"]
    assert [(m.sender, m.keyword) for m in opt_outs] == [("46700000003", "STOP")]


async def test_clickatell_callbacks_with_basic_password(tmp_path: Path) -> None:
    async with listener(tmp_path) as (lst, store):
        url = lst.callback_url("ct")
        body = orjson.dumps({"data": {"apiMessageId": "api-1", "to": "2799900001", "messageStatus": "004",
                                      "timestamp": int(time.time())}})
        assert (await post(url, body))[0] == 401
        assert (await post(url, body, {"Authorization": basic_auth("clickatell", "nope")}))[0] == 401
        assert (await post(url, body, {"Authorization": basic_auth("clickatell", "ct-pass")}))[0] == 200
        async with aiohttp.ClientSession() as s:  # the HTTP GET variant
            async with s.get(url, params={"apiMsgId": "api-1", "to": "2799900001", "status": "007"},
                             headers={"Authorization": basic_auth("x", "ct-pass")}) as r:
                assert r.status == 200
        (report,) = await store.reports_of("ctc")
    # 004 (final, earlier) then 007 (final, no time given: received now) -> the later final wins.
    assert report.status is DeliveryStatus.FAILED and report.provider_id == "api-1"


async def test_inbound_to_a_jsonl_file(tmp_path: Path) -> None:
    out = tmp_path / "inbound.jsonl"
    async with listener(tmp_path, inbound_file=str(out)) as (lst, store):
        body = orjson.dumps({"type": "mo_text", "id": "M1", "from": "+46700000009", "to": "12345",
                             "body": "UNSUBSCRIBE", "received_at": "2026-01-01T10:00:00Z"})
        assert (await post(lst.callback_url("xms"), body))[0] == 200
        in_db = await store.inbound()
    (line,) = out.read_text().splitlines()
    row = orjson.loads(line)
    assert row["sender"] == "46700000009" and row["opt_out"] is True and row["keyword"] == "UNSUBSCRIBE"
    assert in_db == []
