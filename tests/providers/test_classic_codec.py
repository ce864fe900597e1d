"""The Sinch Classic codec and request signing, bytes in and bytes out: no network."""

from __future__ import annotations

import base64

import orjson
import pytest

from bulksend.providers import parse_config
from bulksend.errors import CampaignRefused, ConfigError, RateLimited, TransientError
from bulksend.models import Batch, HttpResponse, Message, Recipient, Status
from bulksend.providers import build_provider
from bulksend.providers.classic import SinchClassic
from bulksend.providers.signing import (
    basic_classic,
    classic_signature,
    content_md5,
    iso_timestamp,
    string_to_sign,
    verify_basic_classic,
    verify_classic,
    webhook_hmac_headers,
    verify_webhook_hmac,
)

KEY = "669E367E-6BBA-48AB-AF15-266871C28135"
SECRET = "BeIukql3pTKJ8RGL5zo0DA=="
NOW = 1_417_435_200.0  # 2014-12-01T12:00:00Z
SIGNED = SinchClassic("https://messagingapi.sinch.com", KEY, SECRET, "signed", clock=lambda: NOW)
BASIC = SinchClassic("https://messagingapi.sinch.com", KEY, SECRET, "basic")
ONE = Batch("spring", 4, (Recipient("46700000000", {"name": "Ana"}),))


def response(status: int, body: object = b"", headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpResponse(status, headers or {"Content-Type": "application/json"}, raw)


# -- signing, against Sinch's documented example --------------------------------
def test_signature_matches_the_documented_example() -> None:
    body = (b'{"event":"ace","callid":"822aa4b7-05b4-4d83-87c7-1f835ee0b6f6_257",'
            b'"timestamp":"2014-09-24T10:59:41Z","version":1}')
    assert content_md5(body) == "REWF+X220L4/Gw1spXOU7g=="
    text = string_to_sign("POST", body, "application/json", "2014-09-24T10:59:41Z", "/sinch/callback/ace")
    assert text == ("POST\nREWF+X220L4/Gw1spXOU7g==\napplication/json\n"
                    "x-timestamp:2014-09-24T10:59:41Z\n/sinch/callback/ace")
    signature = classic_signature(SECRET, text)
    assert signature.startswith("Tg6fMyo8mj9pYfWQ9")  # the prefix Sinch's page shows
    assert signature == "Tg6fMyo8mj9pYfWQ9ssbx3Tc1BNC87IEygAfLbJqZb4="


def test_signed_send_request_bytes() -> None:
    req = SIGNED.send_request(ONE, Message("Hi ${name}", sender="+46701234567"))
    assert (req.method, req.url) == ("POST", "https://messagingapi.sinch.com/v1/sms/+46700000000")
    assert req.body == b'{"message":"Hi Ana","from":"+46701234567"}'
    assert req.headers["x-timestamp"] == "2014-12-01T12:00:00Z"
    assert req.headers["Content-Type"] == "application/json"
    expected = classic_signature(SECRET, string_to_sign("POST", req.body, "application/json",
                                                        "2014-12-01T12:00:00Z", "/v1/sms/+46700000000"))
    assert req.headers["Authorization"] == f"Application {KEY}:{expected}"
    assert verify_classic("POST", "/v1/sms/+46700000000", req.body, req.headers, KEY, SECRET, NOW)


def test_verify_refuses_tampering_wrong_secret_key_and_stale_time() -> None:
    req = SIGNED.send_request(ONE, Message("Hi"))
    path = "/v1/sms/+46700000000"
    assert verify_classic("POST", path, req.body, req.headers, None, SECRET, NOW)
    assert not verify_classic("POST", path, req.body + b" ", req.headers, KEY, SECRET, NOW)
    assert not verify_classic("POST", "/v1/sms/+46700000001", req.body, req.headers, KEY, SECRET, NOW)
    assert not verify_classic("POST", path, req.body, req.headers, KEY, "AAAAAAAAAAAAAAAAAAAAAA==", NOW)
    assert not verify_classic("POST", path, req.body, req.headers, "other-key", SECRET, NOW)
    assert not verify_classic("POST", path, req.body, req.headers, KEY, SECRET, NOW + 3600)
    assert not verify_classic("POST", path, req.body, {}, KEY, SECRET, NOW)
    assert not verify_classic("POST", path, req.body, {"Authorization": "Application nocolon",
                                                       "x-timestamp": "x"}, KEY, SECRET, NOW)


def test_get_signs_empty_md5_and_content_type() -> None:
    req = SIGNED.status_request("123")
    assert req.url == "https://messagingapi.sinch.com/v1/message/status/123" and req.body == b""
    assert "Content-Type" not in req.headers
    text = string_to_sign("GET", b"", "", "2014-12-01T12:00:00Z", "/v1/message/status/123")
    assert text == "GET\n\n\nx-timestamp:2014-12-01T12:00:00Z\n/v1/message/status/123"
    assert req.headers["Authorization"].endswith(classic_signature(SECRET, text))


def test_basic_auth_header() -> None:
    req = BASIC.send_request(ONE, Message("Hi"))
    expected = base64.b64encode(f"application\\{KEY}:{SECRET}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {expected}" == basic_classic(KEY, SECRET)
    assert "x-timestamp" not in req.headers
    assert verify_basic_classic(req.headers, KEY, SECRET)
    assert not verify_basic_classic(req.headers, KEY, "wrong")
    assert not verify_basic_classic({"Authorization": "Basic !!!"}, KEY, SECRET)


def test_iso_timestamp() -> None:
    assert iso_timestamp(NOW) == "2014-12-01T12:00:00Z"


def test_webhook_hmac_round_trip() -> None:
    headers = webhook_hmac_headers("shh", b'{"a":1}', "n0nce", 1_700_000_000)
    assert verify_webhook_hmac("shh", b'{"a":1}', headers, 1_700_000_010)
    assert not verify_webhook_hmac("shh", b'{"a":2}', headers, 1_700_000_010)
    assert not verify_webhook_hmac("shh", b'{"a":1}', headers, 1_700_009_999)
    assert not verify_webhook_hmac("shh", b'{"a":1}', {}, 1_700_000_010)


def test_secrets_not_in_repr() -> None:
    assert SECRET not in repr(SIGNED) and KEY not in repr(SIGNED)


def test_a_secret_that_is_not_base64_cannot_sign() -> None:
    with pytest.raises(ValueError, match="Base64"):
        SinchClassic("https://x", KEY, "not*base64!", "signed")
    SinchClassic("https://x", KEY, "not*base64!", "basic")  # basic does not decode it


def test_one_recipient_per_request() -> None:
    two = Batch("c", 0, (Recipient("46700000001"), Recipient("46700000002")))
    with pytest.raises(ValueError, match="one number"):
        SIGNED.send_request(two, Message("x"))
    assert SIGNED.max_batch == 1 and SIGNED.lookup_request(ONE) is None


# -- responses ----------------------------------------------------------------
def test_200_message_id_recorded() -> None:
    result = SIGNED.parse_send(ONE, response(200, {"messageId": 123}))
    assert (result.outcome.status, result.outcome.provider_id) == (Status.ACCEPTED, "123")


@pytest.mark.parametrize("code", [40001, 40002, 40003])
def test_validation_codes_fail_the_recipient(code: int) -> None:
    body = {"errorCode": code, "message": "Parameter validation", "reference": "ref-1"}
    result = SIGNED.parse_send(ONE, response(400, body))
    assert (result.outcome.status, result.outcome.code, result.outcome.text) == (
        Status.FAILED, str(code), "Parameter validation")


def test_40200_not_enough_funds_stops_the_campaign() -> None:
    with pytest.raises(CampaignRefused, match="funds") as info:
        SIGNED.parse_send(ONE, response(402, {"errorCode": 40200, "message": "There is not enough funds"}))
    assert info.value.code == "40200"


@pytest.mark.parametrize(("status", "code"), [(401, 40100), (403, 40300), (403, 40301), (403, 40303), (401, None)])
def test_auth_codes_refuse_the_campaign(status: int, code: int | None) -> None:
    body = {"errorCode": code, "message": "Illegal authorization header"} if code else b""
    with pytest.raises(CampaignRefused) as info:
        SIGNED.parse_send(ONE, response(status, body))
    assert SECRET not in str(info.value)


def test_50000_and_5xx_are_retried() -> None:
    with pytest.raises(TransientError):
        SIGNED.parse_send(ONE, response(500, {"errorCode": 50000, "message": "Internal error"}))
    with pytest.raises(TransientError) as info:
        SIGNED.parse_send(ONE, response(503, b"<html>busy</html>", {"Retry-After": "3"}))
    assert info.value.retry_after == 3.0


def test_429_is_rate_limited() -> None:
    with pytest.raises(RateLimited):
        SIGNED.parse_send(ONE, response(429, b""))


def test_the_code_wins_over_the_status() -> None:
    # A 400 whose body says 40200 is still "no funds", and a 500 saying 40001 still fails the recipient.
    with pytest.raises(CampaignRefused):
        SIGNED.parse_send(ONE, response(400, {"errorCode": 40200}))
    result = SIGNED.parse_send(ONE, response(500, {"errorCode": 40001, "message": "x"}))
    assert result.outcome.status is Status.FAILED


def test_status_answers() -> None:
    for value in ("Unknown", "Pending", "Successful", "Faulted"):
        assert SIGNED.parse_status(response(200, {"status": value})) == value
    assert SIGNED.parse_status(response(200, {"status": "Weird"})) == "Unknown"
    with pytest.raises(CampaignRefused):
        SIGNED.parse_status(response(401, {"errorCode": 40100}))
    with pytest.raises(TransientError):
        SIGNED.parse_status(response(503, b""))


# -- config -----------------------------------------------------------------
def plan(**kw: object) -> dict[str, object]:
    return {"provider": "sinch_classic", "key_env": "K", "secret_env": "S", "rate": 50, "max_batch": 1, **kw}


def test_factory_reads_key_and_secret_from_the_environment() -> None:
    config = parse_config({"plans": {"cl": plan(auth="basic")}})
    provider = build_provider(config.plan("cl"), {"K": KEY, "S": SECRET})
    assert isinstance(provider, SinchClassic) and provider.auth == "basic"
    assert provider.base_url == "https://messagingapi.sinch.com"
    with pytest.raises(ConfigError, match="S"):
        build_provider(config.plan("cl"), {"K": KEY})


def test_factory_checks_auth_secret_and_batch_size() -> None:
    with pytest.raises(ConfigError, match="auth"):
        build_provider(parse_config({"plans": {"cl": plan(auth="oauth")}}).plan("cl"), {"K": "k", "S": SECRET})
    with pytest.raises(ConfigError, match="Base64") as info:
        build_provider(parse_config({"plans": {"cl": plan()}}).plan("cl"), {"K": "k", "S": "no*pe"})
    assert "no*pe" not in str(info.value)
    with pytest.raises(ConfigError, match=r"\(1\)"):
        build_provider(parse_config({"plans": {"cl": plan(max_batch=2)}}).plan("cl"), {"K": "k", "S": SECRET})
