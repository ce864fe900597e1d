"""What a message may be: tables of bodies, keys, URLs and times, refused or let through."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bulksend.core.message_rules import (
    GRACE,
    check_body,
    check_callback_url,
    check_defaults,
    check_times,
    parse_time,
)
from bulksend.errors import InputError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
DAYS3 = timedelta(days=3)


@pytest.mark.parametrize("body", [
    "Hi ${name}, your code is ${code}",
    "Line one\nline two\r\nform\x0cfeed",  # LF, CR and FF: GSM-7 has them
    "Price: $5 {not a placeholder} and a lone $",
    "Hej Åsa, 10 € — ünïcødé is fine",
    "${a.b-c_D9}${x}",
    "${abcdefghijklmnop}",  # 16 characters: the longest key
])
def test_bodies_that_go_out_as_written(body: str) -> None:
    check_body(body)


@pytest.mark.parametrize(("body", "says"), [
    ("", "the message is empty"),
    (" \n\t ", "the message is empty"),
    ("Hi ${this_is_way_too_long_placeholder}", "'${this_is_way_too_long_placeholder}', which is not a placeholder"),
    ("Hi ${abcdefghijklmnopq}", "which is not a placeholder"),  # 17 characters
    ("Hi ${ name}", "'${ name}', which is not a placeholder"),
    ("Hi ${name", "'${name', which is not a placeholder"),
    ("Hi ${}", "'${}', which is not a placeholder"),
    ("Hi ${na me}", "which is not a placeholder"),
    ("ok ${name} then ${bad key}", "'${bad key}'"),
    ("a\x00b", "control character '\\x00' at character 2"),
    ("a\tb", "control character '\\t'"),
    ("a\x1b[0m", "control character '\\x1b'"),
    ("a\x7f", "control character '\\x7f'"),
    ("caf\udce9", "not valid UTF-8 (an undecodable byte at character 4)"),
])
def test_bodies_refused_before_sending(body: str, says: str) -> None:
    with pytest.raises(InputError, match=_re(says)):
        check_body(body)


def test_a_long_run_after_a_bad_placeholder_is_shortened() -> None:
    with pytest.raises(InputError, match=r"'\$\{ aaaaaaaaaaaaaaaaa\.\.\.'"):
        check_body("${ " + "a" * 100 + "}")


@pytest.mark.parametrize(("defaults", "says"), [
    ({"first name": "Ann"}, "--param 'first name': a key is 1 to 16 characters"),
    ({"k" * 17: "v"}, "a key is 1 to 16 characters"),
    ({"": "v"}, "a key is 1 to 16"),
    ({"name": "An\x00n"}, "--param name holds the control character"),
])
def test_default_values_need_keys_in_the_grammar(defaults: dict[str, str], says: str) -> None:
    with pytest.raises(InputError, match=_re(says)):
        check_defaults(defaults)


def test_good_defaults_pass() -> None:
    check_defaults({"name": "Ann", "code.x-1_Y": "", "k" * 16: "v"})


@pytest.mark.parametrize("url", ["ftp://x", "https://", "example.com/cb", "javascript:alert(1)", "file:///etc/passwd"])
def test_callback_urls_are_http_or_https(url: str) -> None:
    with pytest.raises(InputError, match="not an http\\(s\\) URL"):
        check_callback_url(url)


def test_callback_urls_that_pass() -> None:
    for url in (None, "https://hooks.example.com/sms", "http://127.0.0.1:8080/cb"):
        check_callback_url(url)


@pytest.mark.parametrize(("send_at", "expire_at", "says"), [
    (NOW - GRACE - timedelta(seconds=1), None, "--send-at 2026-12-06T11:58:59Z is in the past"),
    (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "--expire-at 2026-12-06T13:00:00Z is not after --send-at"),
    (NOW + timedelta(hours=1), NOW + timedelta(hours=1), "is not after --send-at"),
    (None, NOW - timedelta(hours=1), "is not after now"),
    (NOW + timedelta(hours=1), NOW + timedelta(hours=1) + DAYS3 + timedelta(seconds=1),
     "more than 3 days after --send-at; sinch_xms keeps a message at most 3 days"),
    (None, NOW + DAYS3 + timedelta(minutes=1), "more than 3 days after now"),
])
def test_times_refused(send_at: datetime | None, expire_at: datetime | None, says: str) -> None:
    with pytest.raises(InputError, match=_re(says)):
        check_times(send_at, expire_at, NOW, DAYS3, "sinch_xms")


@pytest.mark.parametrize(("send_at", "expire_at"), [
    (None, None),
    (NOW - timedelta(seconds=30), None),  # typed a moment ago: within the grace
    (NOW + timedelta(days=30), None),
    (NOW + timedelta(hours=1), NOW + timedelta(hours=1) + DAYS3),  # exactly the cap
    (None, NOW + timedelta(days=2)),
])
def test_times_let_through(send_at: datetime | None, expire_at: datetime | None) -> None:
    check_times(send_at, expire_at, NOW, DAYS3)


def test_no_now_means_no_past_check_and_no_expiry_means_refused() -> None:
    check_times(NOW - timedelta(days=400), None, None, DAYS3)  # a campaign that already exists
    with pytest.raises(InputError, match="clickatell does not take an expiry time"):
        check_times(None, NOW + timedelta(hours=1), NOW, None, "clickatell")


def test_times_parse_as_utc_without_an_offset() -> None:
    assert parse_time("2026-12-06T12:00:00") == NOW == parse_time("2026-12-06T13:00:00+01:00")
    with pytest.raises(InputError, match="--expire-at 'soon': not an ISO-8601 time"):
        parse_time("soon", "--expire-at")


def _re(text: str) -> str:
    import re

    return re.escape(text)
