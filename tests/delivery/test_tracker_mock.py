"""``track`` through the in-memory transport: the provider's own poll requests
and parsers, the engine's call path, no server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bulksend.delivery import DeliveryStatus, Sent, SqliteDeliveryStore
from bulksend.delivery.tracker import track_campaign
from bulksend.engine.transport import MockTransport
from bulksend.errors import InputError
from bulksend.models import HttpRequest, HttpResponse
from tests.helpers import make_config, plan_table

URL = "http://127.0.0.1:9"
SECRET = "c2VjcmV0"  # Base64, so a Classic plan can sign


def full_report(batch_id: str) -> bytes:
    return orjson.dumps({"type": "delivery_report_sms", "batch_id": batch_id, "total_message_count": 3,
                         "statuses": [
                             {"code": 0, "status": "Delivered", "count": 2,
                              "recipients": ["46700000001", "+46700000002"]},
                             {"code": 401, "status": "Dispatched", "count": 1, "recipients": ["46700000099"]},
                         ]})


async def test_xms_is_polled_once_a_batch_through_the_transport(tmp_path: Path) -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        assert request.method == "GET" and request.url.endswith("/delivery_report?type=full")
        if "/batches/B2/" in request.url:
            return HttpResponse(503, {}, b"")
        return HttpResponse(200, {}, full_report("B1"))

    transport = MockTransport(handler)
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("c", "46700000001", "B1", 1.0), Sent("c", "46700000002", "B1", 1.0),
                                 Sent("c", "46700000003", "B2", 1.0)])
        result = await track_campaign(make_config({"a": plan_table(URL)}), store, "c", "a",
                                      transport=transport, clock=lambda: 50.0)
        reports = await store.reports_of("c")
    assert (result.candidates, result.requests, result.updated, result.final, result.errors) == (3, 2, 2, 2, 1)
    assert len(transport.requests) == 2  # one per batch, not per recipient
    assert {(r.msisdn, r.status, r.received_at, r.at) for r in reports} == {
        ("46700000001", DeliveryStatus.DELIVERED, 50.0, None), ("46700000002", DeliveryStatus.DELIVERED, 50.0, None)}


async def test_classic_is_polled_once_a_message(tmp_path: Path) -> None:
    answers = {"11": b'{"status": "Successful"}', "12": b'{"status": "Pending"}'}

    def handler(request: HttpRequest) -> HttpResponse:
        message_id = request.url.rsplit("/", 1)[1]
        assert request.url.startswith(f"{URL}/v1/message/status/")
        return HttpResponse(200, {}, answers[message_id])

    plan = {"provider": "sinch_classic", "base_url": URL, "key_env": "K", "secret_env": "S",
            "rate": 100, "burst": 10, "max_batch": 1}
    transport = MockTransport(handler)
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("c", "46700000001", "11", 1.0), Sent("c", "46700000002", "12", 1.0)])
        result = await track_campaign(make_config({"cl": plan}), store, "c", "cl", env={"K": "k", "S": SECRET},
                                      transport=transport)
        reports = {r.msisdn: r for r in await store.reports_of("c")}
    assert (result.requests, result.updated, result.final) == (2, 2, 1)
    assert reports["46700000001"].status is DeliveryStatus.DELIVERED
    assert reports["46700000002"].status is DeliveryStatus.PENDING and reports["46700000002"].provider_id == "12"


async def test_a_provider_without_polling_says_so(tmp_path: Path) -> None:
    plan = {"provider": "clickatell", "base_url": URL, "token_env": "T", "rate": 100, "burst": 200}
    transport = MockTransport(lambda request: HttpResponse(500, {}, b""))
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("c", "46700000001", "api-1", 1.0)])
        with pytest.raises(InputError, match="cannot be polled"):
            await track_campaign(make_config({"ct": plan}), store, "c", "ct", transport=transport)
    assert transport.requests == []
