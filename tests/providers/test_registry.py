"""The registry and what each provider module owns: bytes in, values out."""

from __future__ import annotations

import pytest

from bulksend.errors import TransientError
from bulksend.models import HttpResponse
from bulksend.providers import BODY_LIMITS, FACTORIES, PROVIDERS, body_limit
from bulksend.providers.callbacks import DeliveryStatus
from bulksend.providers.classic import SinchClassic
from bulksend.providers.clickatell import Clickatell
from bulksend.providers.xms import MAX_BODY_CHARS, SinchXms

SECRET = "c2VjcmV0"


def test_registry_lists_each_provider_once_with_its_own_knowledge() -> None:
    assert sorted(PROVIDERS) == ["clickatell", "sinch_classic", "sinch_xms"]
    assert all(name == spec.name for name, spec in PROVIDERS.items())
    assert set(FACTORIES) == set(PROVIDERS)
    assert BODY_LIMITS == {"sinch_xms": MAX_BODY_CHARS} and body_limit("clickatell") is None
    assert body_limit("carrier-pigeon") is None
    assert PROVIDERS["sinch_xms"].base_url({"region": "au"}, None, "plans.x", "<t>") == "https://au.sms.api.sinch.com"
    assert PROVIDERS["clickatell"].base_url({}, None, "plans.x", "<t>") == "https://api.clickatell.com"
    assert PROVIDERS["sinch_classic"].base_url({}, "http://127.0.0.1:1", "plans.x", "<t>") == "http://127.0.0.1:1"


def test_xms_polls_one_full_report_per_batch() -> None:
    xms = SinchXms("https://eu.sms.api.sinch.com", "plan 1", "tok")
    polls = xms.poll_requests([("B1", "4611"), ("B2", "4621"), ("B1", "4612")])
    assert [(p.provider_id, p.msisdns) for p in polls] == [("B1", ("4611", "4612")), ("B2", ("4621",))]
    assert polls[0].request.url == \
        "https://eu.sms.api.sinch.com/xms/v1/plan%201/batches/B1/delivery_report?type=full"
    assert polls[0].request.headers == {"Authorization": "Bearer tok"}
    body = (b'{"type": "delivery_report_sms", "batch_id": "B1", "statuses": ['
            b'{"code": 0, "status": "Delivered", "count": 1, "recipients": ["+4611"]},'
            b'{"code": 406, "status": "Expired", "count": 1, "recipients": ["4612", "4699"]}]}')
    lines = xms.parse_poll(polls[0], HttpResponse(200, {}, body))
    assert [(s.msisdn, s.status, s.provider_status, s.code) for s in lines] == [
        ("4611", DeliveryStatus.DELIVERED, "Delivered", "0"), ("4612", DeliveryStatus.EXPIRED, "Expired", "406")]
    with pytest.raises(TransientError, match="answered 503"):
        xms.parse_poll(polls[0], HttpResponse(503, {}, b""))
    with pytest.raises(TransientError, match="unreadable"):
        xms.parse_poll(polls[0], HttpResponse(200, {}, b"<html>"))


def test_classic_polls_one_status_per_message() -> None:
    classic = SinchClassic("https://messagingapi.sinch.com", "key", SECRET, "basic")
    (poll,) = classic.poll_requests([("77", "4611")])
    assert poll.request.method == "GET" and poll.request.url.endswith("/v1/message/status/77")
    (line,) = classic.parse_poll(poll, HttpResponse(200, {}, b'{"status": "Faulted"}'))
    assert (line.provider_id, line.msisdn, line.status) == ("77", "4611", DeliveryStatus.FAILED)


def test_clickatell_reports_only_by_callback() -> None:
    assert Clickatell("https://api.clickatell.com", "tok").poll_requests([("a", "4611")]) is None


def test_callback_checks_come_from_the_provider() -> None:
    from bulksend.providers import parse_config

    config = parse_config({"plans": {
        "x": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 1,
              "burst": 200},
        "xs": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 1,
               "burst": 200, "callback_secret_env": "CB"},
        "cl": {"provider": "sinch_classic", "base_url": "http://127.0.0.1:1", "rate": 1, "burst": 1,
               "max_batch": 1, "key_env": "K", "secret_env": "S"},
    }})
    env = {"CB": "shh", "K": "k", "S": SECRET}
    assert PROVIDERS["sinch_xms"].callback_check(config.plan("x"), env) is None  # unsigned callbacks taken
    check = PROVIDERS["sinch_xms"].callback_check(config.plan("xs"), env)
    assert check is not None and not check("POST", "/callbacks/xs", b"{}", {}, 0.0)
    classic = PROVIDERS["sinch_classic"].callback_check(config.plan("cl"), env)
    assert classic is not None and not classic("POST", "/callbacks/cl", b"{}", {}, 0.0)


def test_a_verifier_says_what_the_replay_guard_needs_and_never_raises_on_hostile_headers() -> None:
    from bulksend.providers import parse_config
    from bulksend.providers.base import Verified
    from bulksend.providers.signing import (
        MAX_SKEW,
        SIG,
        SIG_TIMESTAMP,
        basic_auth,
        iso_timestamp,
        sign_classic,
        webhook_hmac_headers,
    )

    config = parse_config({"plans": {
        "xs": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 1,
               "burst": 200, "callback_secret_env": "CB"},
        "ct": {"provider": "clickatell", "base_url": "http://127.0.0.1:1", "rate": 1, "burst": 200,
               "callback_secret_env": "CB"},
        "cl": {"provider": "sinch_classic", "base_url": "http://127.0.0.1:1", "rate": 1, "burst": 1,
               "max_batch": 1, "key_env": "K", "secret_env": "S"},
    }})
    env, now, body = {"CB": "shh", "K": "k", "S": SECRET}, 1_700_000_000.0, b'{"type": "mo_text"}'
    xms = PROVIDERS["sinch_xms"].verifier(config.plan("xs"), env)
    assert xms is not None
    signed = webhook_hmac_headers("shh", body, "n-1", int(now))
    assert xms("POST", "/callbacks/xs", body, signed, now) == Verified(signed[SIG], now + MAX_SKEW)
    hostile = {**signed, SIG_TIMESTAMP: "9" * 400}
    raw = PROVIDERS["sinch_xms"].callback_check(config.plan("xs"), env)
    assert raw is not None
    with pytest.raises(OverflowError):  # what a bare signature routine does with it...
        raw("POST", "/callbacks/xs", body, hostile, now)
    assert xms("POST", "/callbacks/xs", body, hostile, now) is None  # ...and the verifier refuses instead
    assert xms("POST", "/callbacks/xs", body, {**signed, SIG: signed[SIG] + "\u00e9"}, now) is None

    classic = PROVIDERS["sinch_classic"].verifier(config.plan("cl"), env)
    assert classic is not None
    headers = sign_classic("POST", "/callbacks/cl", body, "application/json", "k", SECRET, iso_timestamp(now))
    found = classic("POST", "/callbacks/cl", body, headers, now)
    assert found == Verified(headers["Authorization"].rpartition(":")[2], now + MAX_SKEW)
    assert classic("POST", "/callbacks/cl", body, {**headers, "x-timestamp": "9" * 30}, now) is None

    clickatell = PROVIDERS["clickatell"].verifier(config.plan("ct"), env)
    assert clickatell is not None
    assert clickatell("POST", "/callbacks/ct", body, {"Authorization": basic_auth("u", "shh")}, now) == Verified()
    assert clickatell("POST", "/callbacks/ct", body, {"Authorization": "Basic \u00ff\u00fe"}, now) is None
