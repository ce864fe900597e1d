"""The Sinch XMS codec, bytes in and bytes out: no network."""

from __future__ import annotations

import orjson
import pytest

from bulksend.errors import CampaignRefused, RateLimited, TransientError
from bulksend.models import Batch, DeliveryReport, HttpResponse, Message, Recipient, Status
from bulksend.providers.xms import SinchXms, build_payload, region_url

XMS = SinchXms("https://eu.sms.api.sinch.com", "plan-1", "s3cret-token")
BATCH = Batch("spring", 7, (Recipient("46700000001", {"name": "Ana"}), Recipient("46700000002", {"name": ""})))


def response(status: int, body: object = b"", headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpResponse(status, headers or {}, raw)


def test_send_request_shape() -> None:
    msg = Message("Hi ${name}", sender="Brand", defaults={"name": "friend"},
                  delivery_report=DeliveryReport.PER_RECIPIENT, send_at="2026-12-01T09:00:00Z",
                  expire_at="2026-12-02T09:00:00Z", callback_url="https://example.test/cb", max_parts=3)
    req = XMS.send_request(BATCH, msg)
    assert req.method == "POST"
    assert req.url == "https://eu.sms.api.sinch.com/xms/v1/plan-1/batches"
    assert req.headers["Authorization"] == "Bearer s3cret-token"
    assert req.headers["Content-Type"] == "application/json"
    assert orjson.loads(req.body) == {
        "to": ["46700000001", "46700000002"],
        "body": "Hi ${name}",
        "client_reference": "spring:7",
        "parameters": {"name": {"46700000001": "Ana", "default": "friend"}},
        "from": "Brand",
        "send_at": "2026-12-01T09:00:00Z",
        "expire_at": "2026-12-02T09:00:00Z",
        "callback_url": "https://example.test/cb",
        "max_number_of_message_parts": 3,
        "delivery_report": "per_recipient",
    }


def test_plain_body_has_no_parameters_and_no_optional_nulls() -> None:
    payload = build_payload(BATCH, Message("Hello"))
    assert payload == {"to": ["46700000001", "46700000002"], "body": "Hello", "client_reference": "spring:7"}


def test_token_not_in_repr() -> None:
    assert "s3cret" not in repr(XMS)


def test_201_accepted_with_batch_id() -> None:
    result = XMS.parse_send(BATCH, response(201, {"id": "01ABC", "to": ["46700000001"], "canceled": False}))
    assert result.outcome.status is Status.ACCEPTED
    assert result.outcome.provider_id == "01ABC"
    assert result.outcome_for("46700000002").provider_id == "01ABC"


@pytest.mark.parametrize("body", [
    b'{"id":"01ABC","to":["46700000001"],"canceled":false}',        # id first, as Sinch answers: read off the front
    b'{ "id" : "01ABC", "to": ["46700000001"]}',
    b'{"to":["46700000001"],"client_reference":"x","id":"01ABC"}',  # anywhere else: the whole body is parsed
])
def test_201_batch_id_wherever_it_is(body: bytes) -> None:
    assert XMS.parse_send(BATCH, response(201, body)).outcome.provider_id == "01ABC"


def test_201_with_unknown_fields_is_fine() -> None:
    result = XMS.parse_send(BATCH, response(201, {"id": "X", "brand_new_field": {"a": 1}}))
    assert result.outcome.status is Status.ACCEPTED


@pytest.mark.parametrize(("status", "code"), [
    (400, "syntax_invalid_json"),
    (400, "syntax_invalid_parameter_format"),
    (400, "syntax_constraint_violation"),
    (403, "unknown_group"),
    (403, "unknown_campaign"),
    (403, "missing_callback_url"),
    (403, "illegal_number_type"),
])
def test_rejections_fail_the_batch(status: int, code: str) -> None:
    result = XMS.parse_send(BATCH, response(status, {"code": code, "text": "nope"}))
    assert result.outcome.status is Status.FAILED
    assert (result.outcome.code, result.outcome.text) == (code, "nope")


def test_blocked_account_refuses_campaign() -> None:
    with pytest.raises(CampaignRefused) as info:
        XMS.parse_send(BATCH, response(403, {"code": "blocked_account", "text": "Account blocked"}))
    assert info.value.code == "blocked_account"


@pytest.mark.parametrize("status", [401, 404])
def test_auth_and_not_found_refuse_campaign(status: int) -> None:
    with pytest.raises(CampaignRefused) as info:
        XMS.parse_send(BATCH, response(status, b"Unauthorized"))
    assert "s3cret" not in str(info.value)


def test_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        XMS.parse_send(BATCH, response(429, {"code": "too_many_requests", "text": "slow"}, {"Retry-After": "2"}))
    assert info.value.retry_after == 2.0


def test_429_without_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        XMS.parse_send(BATCH, response(429, b""))
    assert info.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status: int) -> None:
    with pytest.raises(TransientError):
        XMS.parse_send(BATCH, response(status, b"<html>oops</html>"))


@pytest.mark.parametrize("status", [405, 415])
def test_other_client_errors_fail_batch(status: int) -> None:
    assert XMS.parse_send(BATCH, response(status, b"")).outcome.status is Status.FAILED


def test_lookup_request_filters_by_client_reference() -> None:
    req = XMS.lookup_request(BATCH)
    assert req.method == "GET"
    assert "client_reference=spring%3A7" in req.url


def test_parse_lookup_found_absent_and_canceled() -> None:
    found = {"batches": [{"id": "B1", "client_reference": "spring:7", "canceled": False}], "count": 1}
    assert XMS.parse_lookup(BATCH, response(200, found)).provider_id == "B1"  # type: ignore[union-attr]
    assert XMS.parse_lookup(BATCH, response(200, {"batches": [], "count": 0})) is None
    other = {"batches": [{"id": "B2", "client_reference": "spring:70"}]}
    assert XMS.parse_lookup(BATCH, response(200, other)) is None
    canceled = {"batches": [{"id": "B1", "client_reference": "spring:7", "canceled": True}]}
    assert XMS.parse_lookup(BATCH, response(200, canceled)) is None


def test_parse_lookup_error_is_transient() -> None:
    with pytest.raises(TransientError):
        XMS.parse_lookup(BATCH, response(503, b""))


def test_cancel_request() -> None:
    req = XMS.cancel_request("01ABC")
    assert (req.method, req.url) == ("DELETE", "https://eu.sms.api.sinch.com/xms/v1/plan-1/batches/01ABC")


def test_regions() -> None:
    assert region_url("us") == "https://us.sms.api.sinch.com"
    with pytest.raises(ValueError):
        region_url("mars")


@pytest.mark.parametrize("message", [Message("Hello"), Message("Hello", sender="Brand", max_parts=2,
                                                               delivery_report=DeliveryReport.SUMMARY)])
def test_numbers_from_a_clean_block_are_written_into_the_body_as_they_are(message: Message) -> None:
    from bulksend.core.numbers import clean_block
    from bulksend.models import Numbers

    text, keys, starts = clean_block(b"+46700000001\n46700000002\n46700000003\n") or ("", None, None)
    spliced = Batch("spring", 7, Numbers.joined(text, starts, None, keys)[0:2])
    listed = Batch("spring", 7, Numbers(["46700000001", "46700000002"]))
    body = XMS.send_request(spliced, message).body
    assert body == XMS.send_request(listed, message).body == orjson.dumps(build_payload(listed, message))
    assert orjson.loads(body)["to"] == ["46700000001", "46700000002"]
