"""The Clickatell REST codec, bytes in and bytes out: no network."""

from __future__ import annotations

import orjson
import pytest

from bulksend.providers import parse_config
from bulksend.errors import BatchRejected, CampaignRefused, ConfigError, RateLimited, TransientError
from bulksend.models import Batch, DeliveryReport, HttpResponse, Message, Recipient, Status
from bulksend.providers import build_provider
from bulksend.providers._xml import parse_untrusted
from bulksend.providers.clickatell import Clickatell, parse_answer

CT = Clickatell("https://api.clickatell.com", "tok-s3cret")
CT_XML = Clickatell("https://api.clickatell.com", "tok-s3cret", "xml")
BATCH = Batch("spring", 3, (Recipient("2799900001", {"name": "Ana"}), Recipient("2799900002", {"name": "Bo"}),
                            Recipient("2799900003")))
JSON_H = {"Content-Type": "application/json"}
XML_H = {"Content-Type": "application/xml"}


def response(status: int, body: object = b"", headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpResponse(status, JSON_H if headers is None else headers, raw)


def msg(to: str, api_id: str = "", error: tuple[str, str] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"accepted": error is None, "to": to}
    if api_id:
        entry["apiMessageId"] = api_id
    if error:
        entry["error"] = {"code": error[0], "description": error[1]}
    return entry


# -- requests ---------------------------------------------------------------
def test_json_request_is_the_documented_curl() -> None:
    req = CT.send_request(BATCH, Message("My message"))
    assert (req.method, req.url) == ("POST", "https://api.clickatell.com/rest/message")
    assert req.headers == {"X-Version": "1", "Authorization": "Bearer tok-s3cret",
                           "Content-Type": "application/json", "Accept": "application/json"}
    assert req.body == b'{"text":"My message","to":["2799900001","2799900002","2799900003"]}'


def test_optional_fields_from_and_callback() -> None:
    req = CT.send_request(BATCH, Message("Hi", sender="Brand", delivery_report=DeliveryReport.PER_RECIPIENT))
    assert orjson.loads(req.body) == {"text": "Hi", "to": ["2799900001", "2799900002", "2799900003"],
                                      "from": "Brand", "callback": 3}


def test_xml_request_bytes() -> None:
    req = CT_XML.send_request(Batch("c", 0, (Recipient("2799900001"),)), Message("a < b & \"c\"", sender="X"))
    assert req.headers["Content-Type"] == req.headers["Accept"] == "application/xml"
    assert req.body == (b'<?xml version="1.0" encoding="UTF-8"?><request><text>a &lt; b &amp; "c"</text>'
                        b"<to>2799900001</to><from>X</from></request>")
    root = parse_untrusted(req.body)
    assert root.findtext("text") == 'a < b & "c"'


def test_token_not_in_repr() -> None:
    assert "tok-s3cret" not in repr(CT)


def test_templated_message_is_rendered_and_sent_one_by_one() -> None:
    message = Message("Hi ${name}", defaults={"name": "friend"})
    assert CT.max_batch_for(message) == 1 and CT.max_batch_for(Message("plain")) == 200
    one = CT.send_request(Batch("c", 0, (Recipient("2799900001", {"name": "Ana"}),)), message)
    assert orjson.loads(one.body)["text"] == "Hi Ana"
    default = CT.send_request(Batch("c", 1, (Recipient("2799900003"),)), message)
    assert orjson.loads(default.body)["text"] == "Hi friend"
    # Several numbers with one rendered text may share a request; different texts may not.
    same = Batch("c", 2, (Recipient("2799900003"), Recipient("2799900004")))
    assert orjson.loads(CT.send_request(same, message).body)["to"] == ["2799900003", "2799900004"]
    with pytest.raises(BatchRejected, match="one text per request"):
        CT.send_request(BATCH, message)


def test_more_than_200_numbers_is_refused() -> None:
    batch = Batch("c", 0, tuple(Recipient(str(2799900000 + i)) for i in range(201)))
    with pytest.raises(ValueError, match="200"):
        CT.send_request(batch, Message("x"))


# -- responses ----------------------------------------------------------------
def test_202_all_accepted_with_ids() -> None:
    body = {"data": {"message": [msg("2799900001", "a1"), msg("2799900002", "a2"), msg("2799900003", "a3")]}}
    result = CT.parse_send(BATCH, response(202, body))
    assert [result.outcome_for(r.msisdn).provider_id for r in BATCH.recipients] == ["a1", "a2", "a3"]
    assert all(result.outcome_for(r.msisdn).status is Status.ACCEPTED for r in BATCH.recipients)


def test_207_mixed_each_number_its_own_outcome() -> None:
    body = {"data": {"message": [
        msg("2799900001", "a1"),
        msg("2799900002", error=("105", "Invalid destination address")),
        msg("+2799900003", "a3"),  # an echoed prefix is tolerated
    ]}}
    result = CT.parse_send(BATCH, response(207, body))
    ok, bad, third = (result.outcome_for(r.msisdn) for r in BATCH.recipients)
    assert (ok.status, ok.provider_id) == (Status.ACCEPTED, "a1")
    assert (bad.status, bad.code, bad.text) == (Status.FAILED, "105", "Invalid destination address")
    assert (third.status, third.provider_id) == (Status.ACCEPTED, "a3")


def test_207_number_missing_from_the_list_is_unknown() -> None:
    body = {"data": {"message": [msg("2799900001", "a1")]}}
    result = CT.parse_send(BATCH, response(207, body))
    assert result.outcome_for("2799900002").status is Status.UNKNOWN
    assert result.outcome_for("2799900001").status is Status.ACCEPTED


def test_202_unreadable_body_still_means_accepted() -> None:
    result = CT.parse_send(BATCH, response(202, b"not json"))
    assert result.outcome.status is Status.ACCEPTED and result.per_recipient is None


def test_202_with_unknown_fields_is_fine() -> None:
    body = {"data": {"message": [msg("2799900001", "a1") | {"new": 1}], "more": True}, "meta": {}}
    one = Batch("c", 0, (Recipient("2799900001"),))
    assert CT.parse_send(one, response(202, body)).outcome_for("2799900001").provider_id == "a1"


def test_410_fails_the_numbers_only_and_goes_on() -> None:
    single = Batch("c", 0, (Recipient("2799900002"),))
    body = {"data": {"message": [msg("2799900002", error=("121", "Destination mobile number blocked"))]}}
    result = CT.parse_send(single, response(410, body))
    out = result.outcome_for("2799900002")
    assert (out.status, out.code) == (Status.FAILED, "121")
    bare = CT.parse_send(BATCH, response(410, b""))
    assert all(bare.outcome_for(r.msisdn).status is Status.FAILED for r in BATCH.recipients)
    assert bare.outcome.code == "410"


def test_400_with_a_global_error_fails_the_batch() -> None:
    body = {"error": {"code": "101", "description": "Invalid or missing parameters", "documentation": "x"}}
    result = CT.parse_send(BATCH, response(400, body))
    assert (result.outcome.status, result.outcome.code, result.outcome.text) == (
        Status.FAILED, "101", "Invalid or missing parameters")


def test_401_and_403_refuse_the_campaign() -> None:
    for status in (401, 403):
        with pytest.raises(CampaignRefused, match="token") as info:
            CT.parse_send(BATCH, response(status, {"error": {"code": "001", "description": "Authentication failed"}}))
        assert "tok-s3cret" not in str(info.value) and info.value.code == "001"


def test_402_no_credit_stops_the_campaign_with_a_clear_message() -> None:
    with pytest.raises(CampaignRefused, match="no credit") as info:
        CT.parse_send(BATCH, response(402, {"error": {"code": "301", "description": "No credit left"}}))
    assert info.value.status == 402 and info.value.code == "301"


def test_404_points_at_the_base_url() -> None:
    with pytest.raises(CampaignRefused, match="base_url"):
        CT.parse_send(BATCH, response(404, b""))


def test_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        CT.parse_send(BATCH, response(429, {"error": {"code": "", "description": "slow down"}}, {"Retry-After": "2"}))
    assert info.value.retry_after == 2.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(status: int) -> None:
    with pytest.raises(TransientError) as info:
        CT.parse_send(BATCH, response(status, b"", {"Retry-After": "1"}))
    assert not isinstance(info.value, RateLimited) and info.value.retry_after == 1.0


# -- XML answers --------------------------------------------------------------
XML_207 = (b'<?xml version="1.0" encoding="UTF-8"?><response><data>'
           b"<message><accepted>true</accepted><to>2799900001</to><apiMessageId>x1</apiMessageId></message>"
           b"<message><accepted>false</accepted><to>2799900002</to>"
           b"<error><code>105</code><description>Invalid destination address</description></error></message>"
           b"<message><accepted>true</accepted><to>2799900003</to><apiMessageId>x3</apiMessageId></message>"
           b"</data></response>")


def test_xml_207_per_number() -> None:
    result = CT_XML.parse_send(BATCH, HttpResponse(207, XML_H, XML_207))
    assert result.outcome_for("2799900001").provider_id == "x1"
    assert (result.outcome_for("2799900002").status, result.outcome_for("2799900002").code) == (Status.FAILED, "105")
    assert result.outcome_for("2799900003").status is Status.ACCEPTED


def test_answer_format_follows_content_type_not_the_request() -> None:
    # A JSON plan reading an XML answer, and the reverse.
    assert CT.parse_send(BATCH, HttpResponse(207, XML_H, XML_207)).outcome_for("2799900001").provider_id == "x1"
    body = orjson.dumps({"data": {"message": [msg("2799900001", "j1")]}})
    assert CT_XML.parse_send(BATCH, HttpResponse(207, JSON_H, body)).outcome_for("2799900001").provider_id == "j1"


def test_xml_errors_and_refusals() -> None:
    err = b"<response><error><code>301</code><description>No credit left</description></error></response>"
    with pytest.raises(CampaignRefused) as info:
        CT_XML.parse_send(BATCH, HttpResponse(402, XML_H, err))
    assert info.value.code == "301"
    bad = CT_XML.parse_send(BATCH, HttpResponse(400, XML_H, err.replace(b"301", b"101")))
    assert bad.outcome.code == "101"


def test_hostile_xml_is_not_expanded() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<response><data><message><to>&b;</to></message></data></response>")
    answer = parse_answer(HttpResponse(202, XML_H, bomb))
    assert answer.messages == () and answer.error_code == ""
    result = CT_XML.parse_send(BATCH, HttpResponse(202, XML_H, bomb))
    assert result.outcome.status is Status.ACCEPTED and result.per_recipient is None


# -- config -----------------------------------------------------------------
def plan(**kw: object) -> dict[str, object]:
    return {"provider": "clickatell", "base_url": "https://api.clickatell.com", "token_env": "CT_TOKEN",
            "rate": 100, **kw}


def test_factory_reads_the_token_from_the_environment() -> None:
    config = parse_config({"plans": {"ct": plan(format="xml")}})
    provider = build_provider(config.plan("ct"), {"CT_TOKEN": "abc"})
    assert isinstance(provider, Clickatell) and provider.format == "xml" and provider.token == "abc"
    with pytest.raises(ConfigError, match="CT_TOKEN"):
        build_provider(config.plan("ct"), {})


def test_factory_checks_format_and_batch_size() -> None:
    with pytest.raises(ConfigError, match="format"):
        build_provider(parse_config({"plans": {"ct": plan(format="yaml")}}).plan("ct"), {"CT_TOKEN": "a"})
    with pytest.raises(ConfigError, match="200"):
        build_provider(parse_config({"plans": {"ct": plan(max_batch=201, burst=300)}}).plan("ct"), {"CT_TOKEN": "a"})
