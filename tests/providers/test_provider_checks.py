"""Each provider's limits on what a user types (sender, batch size, expiry), and the API refusing before it sends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import bulksend
from bulksend.api import build_spec
from bulksend.errors import InputError
from bulksend.models import Message
from bulksend.providers import PROVIDERS
from bulksend.providers.base import gsm_sender_problem
from bulksend.providers.checks import check_campaign
from bulksend.sandbox import SandboxConfig
from tests.helpers import make_config, plan_table, write_numbers

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("sender", ["12345", "+46701234567", "123456789012345", "+123456789012345", "Shop", "Shop 24",
                                    "ABCDEFGHIJK", "1a"])
def test_senders_a_network_carries(sender: str) -> None:
    assert gsm_sender_problem(sender) is None


@pytest.mark.parametrize(("sender", "says"), [
    ("A" * 31, "31 characters (an alphanumeric sender has at most 11)"),
    ("ABCDEFGHIJKL", "12 characters"),
    ("1234567890123456", "a number of 16 digits (at most 15)"),
    ("+1234567890123456", "a number of 16 digits"),
    ("Shop!", "neither a number nor alphanumeric"),
    ("Åsa", "neither a number nor alphanumeric"),
    ("", "neither a number nor alphanumeric"),
])
def test_senders_refused(sender: str, says: str) -> None:
    problem = gsm_sender_problem(sender)
    assert problem is not None and says in problem


def test_every_provider_states_its_limits() -> None:
    limits = {name: (spec.max_batch, spec.max_expiry, spec.sender_problem is not None)
              for name, spec in PROVIDERS.items()}
    assert limits == {"sinch_xms": (1000, timedelta(days=3), True), "clickatell": (200, None, True),
                      "sinch_classic": (1, None, True)}


def plans() -> Any:
    return make_config({
        "x": plan_table("http://127.0.0.1:9", max_batch=1000, burst=1000),
        "c": {"provider": "clickatell", "base_url": "http://127.0.0.1:9", "rate": 100, "max_batch": 200},
        "k": {"provider": "sinch_classic", "base_url": "http://127.0.0.1:9", "rate": 10, "max_batch": 1},
    })


@pytest.mark.parametrize(("plan", "message", "max_batch", "says"), [
    ("x", Message("hi", sender="A" * 31), None, "--from 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA': sinch_xms refuses it"),
    ("c", Message("hi", sender="+1234567890123456"), None, "clickatell refuses it: a number of 16 digits"),
    ("k", Message("hi", sender="Hello World!"), None, "sinch_classic refuses it"),
    ("x", Message("hi"), 1001, "--max-batch 1001: above plan x's max_batch (1000)"),
    ("c", Message("hi"), 0, "--max-batch 0: must be a whole number"),
    ("x", Message("hi", send_at="2026-12-06T11:58:00Z"), None, "is in the past"),
    ("x", Message("hi", send_at="2026-12-07T00:00:00Z", expire_at="2026-12-10T00:00:01Z"), None, "at most 3 days"),
    ("c", Message("hi", expire_at="2026-12-06T13:00:00Z"), None, "clickatell does not take an expiry time"),
    ("k", Message("hi", expire_at="2026-12-06T13:00:00Z"), None, "sinch_classic does not take an expiry time"),
    ("x", Message("hi", callback_url="ftp://x"), None, "--callback-url 'ftp://x': not an http(s) URL"),
    ("x", Message("hi ${ x}"), None, "not a placeholder"),
])
def test_a_campaign_is_checked_against_its_plan_and_provider(plan: str, message: Message, max_batch: int | None,
                                                             says: str) -> None:
    import re

    with pytest.raises(InputError, match=re.escape(says)):
        check_campaign(plans().plan(plan), message, max_batch, NOW)


def test_a_campaign_that_passes() -> None:
    good = Message("Hi ${name}", sender="Shop", send_at="2026-12-06T11:59:30Z", expire_at="2026-12-09T11:59:30Z",
                   callback_url="https://example.com/cb", defaults={"name": "you"})
    check_campaign(plans().plan("x"), good, 1000, NOW)
    check_campaign(plans().plan("c"), Message("hi", sender="27999000001"), 200, NOW)
    check_campaign(plans().plan("x"), Message("hi", send_at="2020-01-01T00:00:00Z"), None, None)  # no "now": no past


def test_build_spec_refuses_what_needs_no_plan() -> None:
    for kwargs, says in [({"message": ""}, "the message is empty"),
                         ({"message": "hi", "max_batch": -5}, "--max-batch -5"),
                         ({"message": "hi", "params": {"a b": "1"}}, "--param 'a b'"),
                         ({"message": "hi", "send_at": "2030-01-02T00:00:00Z", "expire_at": "2030-01-01T00:00:00Z"},
                          "is not after --send-at")]:
        with pytest.raises(InputError, match=re_escape(says)):
            build_spec(plan="a", recipients="n.txt", campaign="c", **kwargs)


async def test_the_python_api_refuses_before_any_request(tmp_path: Path, sandbox: Any) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 20)
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})  # max_batch 100
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", max_batch=5000)
        with pytest.raises(InputError, match="above plan a's max_batch"):
            await bulksend.send_campaign(config, spec)
        past = build_spec(plan="a", recipients=str(numbers), message="hi", send_at="2020-01-01T00:00:00Z")
        with pytest.raises(InputError, match="is in the past"):
            await bulksend.send_campaign(config, past)
        with pytest.raises(InputError, match="sinch_xms refuses it"):
            await bulksend.send_campaign(config, build_spec(plan="a", recipients=str(numbers), message="hi",
                                                            sender="A" * 31))
        assert sb.state.stats()["plans"] == {}


def re_escape(text: str) -> str:
    import re

    return re.escape(text)
