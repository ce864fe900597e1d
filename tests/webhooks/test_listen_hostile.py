"""``bulksend listen`` against callers who lie: replays, hostile headers and bodies, unknown batches.

The hostile tables go over raw sockets (so header bytes are exactly what an
attacker would send, not what a polite client library allows) and assert one
thing each: never a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bulksend.providers import parse_config
from bulksend.delivery import DeliveryStatus, Sent, SqliteDeliveryStore
from bulksend.providers.signing import iso_timestamp, sign_classic, webhook_hmac_headers
from bulksend.serving import ServeLimits
from bulksend.webhooks import RunningListener, build_listener, listening
from bulksend.webhooks.parse import parse_xms
from bulksend.webhooks.replay import ReplayGuard
from tests.webhooks.test_webhooks import ENV, SECRET, post, recipient_report

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PLANS = parse_config({"plans": {
    "xms": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 10},
    "xms_signed": {"provider": "sinch_xms", "service_plan_id": "p", "base_url": "http://127.0.0.1:1", "rate": 10,
                   "callback_secret_env": "CB"},
    "classic": {"provider": "sinch_classic", "base_url": "http://127.0.0.1:1", "rate": 10, "max_batch": 1,
                "key_env": "K", "secret_env": "S"},
    "ct": {"provider": "clickatell", "base_url": "http://127.0.0.1:1", "rate": 10, "callback_secret_env": "CT"},
    "ct_open": {"provider": "clickatell", "base_url": "http://127.0.0.1:1", "rate": 10},
}})


@contextlib.asynccontextmanager
async def served(tmp_path: Path, clock: Clock | None = None, **kw: Any) -> AsyncIterator[
        tuple[RunningListener, SqliteDeliveryStore]]:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("camp", "46700000001", "B1", NOW - 5),
                                 Sent("ctc", "2799900001", "api-1", NOW - 5)])
        app = build_listener(PLANS, store, env=ENV, resolve_wait=0.0, clock=clock or Clock(), **kw)
        async with listening(app) as lst:
            yield lst, store


def classic_inbound(text: str = "Hello") -> bytes:
    return orjson.dumps({"event": "incomingSms", "to": {"type": "number", "endpoint": "+46700000000"},
                         "from": {"type": "number", "endpoint": "+46700000003"}, "message": text,
                         "timestamp": "2014-12-01T12:00:00Z", "version": 1})


# -- replay protection ---------------------------------------------------------
def test_replay_guard_remembers_until_the_signature_goes_stale() -> None:
    guard = ReplayGuard(max_entries=3)
    assert guard.claim("p", "sig1", until=100.0, now=10.0)
    assert not guard.claim("p", "sig1", until=100.0, now=50.0)  # a replay inside the window
    assert guard.claim("q", "sig1", until=100.0, now=50.0)  # another plan's signature space
    assert guard.claim("p", "sig1", until=200.0, now=100.0)  # stale by now: the verifier refuses it anyway
    guard.release("p", "sig1")
    assert guard.claim("p", "sig1", until=200.0, now=101.0)  # released (not stored): a retry is taken
    for i in range(10):
        guard.claim("p", f"s{i}", until=1000.0, now=102.0)
    assert len(guard) == 3  # bounded: the oldest are forgotten first


async def test_a_replayed_signed_xms_callback_is_409_and_a_fresh_one_is_taken(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    async with served(tmp_path, clock) as (lst, store):
        url = lst.callback_url("xms_signed")
        body = recipient_report(status="Dispatched", code=401)
        first = webhook_hmac_headers("shared-secret", body, "nonce-1", int(NOW))
        assert (await post(url, body, first))[0] == 200
        clock.now += 60
        assert (await post(url, body, first))[0] == 409  # the same signature, a minute later
        fresh = webhook_hmac_headers("shared-secret", body, "nonce-2", int(clock.now))
        assert (await post(url, body, fresh))[0] == 200
        clock.now += 16 * 60
        assert (await post(url, body, first))[0] == 401  # out of the skew window: stale, not a replay
        stats = lst.stats
    assert (stats.stored_reports, stats.replayed, stats.unauthorized) == (2, 1, 1)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "(409)" in logged and "replayed" in logged
    for secret in (first["x-sinch-webhook-signature"], "nonce-1", "shared-secret", "46700000001", "Dispatched"):
        assert secret not in logged


async def test_a_refusal_log_line_cannot_be_forged_through_the_url(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="bulksend.listen")
    async with served(tmp_path) as (lst, _store):
        status, _ = await post(lst.url + "/callbacks/x%0Acallback%20stored%20for%20plan%20xms", b"{}")
    (line,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert status == 404 and "\n" not in line and "(unknown)" in line


async def test_a_replayed_classic_inbound_is_stored_once(tmp_path: Path) -> None:
    async with served(tmp_path) as (lst, store):
        body = classic_inbound("STOP")
        headers = sign_classic("POST", "/callbacks/classic", body, "application/json", "app-key", SECRET,
                               iso_timestamp(NOW))
        statuses = [(await post(lst.callback_url("classic"), body, headers))[0] for _ in range(3)]
        inbound = await store.inbound()
    assert statuses == [200, 409, 409] and len(inbound) == 1


async def test_copies_racing_each_other_store_one(tmp_path: Path) -> None:
    async with served(tmp_path) as (lst, store):
        body = classic_inbound()
        headers = sign_classic("POST", "/callbacks/classic", body, "application/json", "app-key", SECRET,
                               iso_timestamp(NOW))
        results = await asyncio.gather(*(post(lst.callback_url("classic"), body, headers) for _ in range(8)))
        inbound = await store.inbound()
    assert sorted(status for status, _ in results) == [200] + [409] * 7 and len(inbound) == 1


async def test_a_signature_not_stored_can_be_retried(tmp_path: Path) -> None:
    async with served(tmp_path) as (lst, store):
        url = lst.callback_url("xms_signed")
        body = recipient_report(batch="B7", to="46700000007")
        headers = webhook_hmac_headers("shared-secret", body, "n-7", int(NOW))
        assert (await post(url, body, headers))[0] == 404  # its send is not recorded yet
        await store.record_sent([Sent("late", "46700000007", "B7", NOW)])
        assert (await post(url, body, headers))[0] == 200  # the provider's retry is not a replay


# -- unknown batches -------------------------------------------------------------
async def test_a_report_for_an_unknown_batch_is_404_even_with_a_known_client_reference(tmp_path: Path) -> None:
    async with served(tmp_path) as (lst, store):
        url = lst.callback_url("xms")
        forged = recipient_report(batch="NOT-OURS", to="46700000001", client_reference="camp:0")
        assert (await post(url, forged))[0] == 404
        assert (await post(url, recipient_report(batch="B1", to="46700000001")))[0] == 200
        reports = await store.reports_of("camp")
    assert [r.provider_id for r in reports] == ["B1"]


# -- statuses and inbound shapes -------------------------------------------------------
@pytest.mark.parametrize("word", ["Delivered", "DELIVERED", "delivered", " Delivered ", "dElIvErEd"])
def test_status_names_match_in_any_case(word: str) -> None:
    (event,) = parse_xms(recipient_report(status=word)).statuses
    assert event.status is DeliveryStatus.DELIVERED


def test_every_status_name_in_upper_case() -> None:
    from bulksend.delivery.model import CLASSIC_STATUS, XMS_STATUS, classic_status, xms_status

    assert all(xms_status(name.upper()) is status for name, status in XMS_STATUS.items())
    assert all(classic_status(name.upper()) is status for name, status in CLASSIC_STATUS.items())


@pytest.mark.parametrize("fixture, body", [
    ("sinch_mo_text.json", "a body"), ("sinch_mo_binary.json", "a body"), ("sinch_mo_media.json", "my message"),
])
async def test_sinch_inbound_fixtures_are_all_stored(tmp_path: Path, fixture: str, body: str) -> None:
    raw = (FIXTURES / fixture).read_bytes()
    async with served(tmp_path) as (lst, store):
        assert (await post(lst.callback_url("xms"), raw))[0] == 200
        (message,) = await store.inbound()
    assert (message.sender, message.recipient, message.body) == ("11203494390", "11203453453", body)
    assert message.message_id == "01FC66621XXXXX119Z8PMV1QPA" and message.at == 1566656242.0


async def test_mo_media_urls_reach_the_inbound_log(tmp_path: Path) -> None:
    out = tmp_path / "in" / "inbound.jsonl"
    out.parent.mkdir()
    async with served(tmp_path, inbound_file=str(out)) as (lst, _store):
        assert (await post(lst.callback_url("xms"), (FIXTURES / "sinch_mo_media.json").read_bytes()))[0] == 200
    row = json.loads(out.read_text())
    assert row["media"] == ["https://foo.url"] and row["body"] == "my message"
    assert out.stat().st_mode & 0o777 == 0o600


def test_sdk_recipient_report_fixture() -> None:
    (event,) = parse_xms((FIXTURES / "sinch_recipient_delivery_report.json").read_bytes()).statuses
    assert (event.ref.provider_id, event.ref.msisdn, event.status, event.code) == (
        "01FC66621XXXXX119Z8PMV1QPQ", "44231235674", DeliveryStatus.PENDING, "401")


# -- hostile headers and bodies: never a 5xx ---------------------------------------------
async def raw_status(port: int, path: str, headers: list[tuple[bytes, bytes]], body: bytes,
                     chunked: bytes | None = None) -> int:
    """Send one request byte for byte; the status code of the answer (0: the server closed without one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [b"POST " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    head += [name + b": " + value for name, value in headers]
    head.append(b"Transfer-Encoding: chunked" if chunked is not None else b"Content-Length: %d" % len(body))
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + (chunked if chunked is not None else body))
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
    except ConnectionResetError:
        status_line = b""
    finally:
        writer.close()
    parts = status_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _hmac(stamp: bytes = b"", nonce: bytes = b"n", sig: bytes = b"c2ln") -> list[tuple[bytes, bytes]]:
    return [(b"x-sinch-webhook-signature-timestamp", stamp or str(int(NOW)).encode()),
            (b"x-sinch-webhook-signature-nonce", nonce), (b"x-sinch-webhook-signature", sig),
            (b"Content-Type", b"application/json")]


def _classic(auth: bytes, stamp: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", auth), (b"x-timestamp", stamp), (b"Content-Type", b"application/json")]


def _basic(raw: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", b"Basic " + raw), (b"Content-Type", b"application/json")]


HOSTILE_HEADERS = [
    ("xms_signed", _hmac(stamp=b"9" * 400)),
    ("xms_signed", _hmac(stamp=b"-" + b"9" * 30)),
    ("xms_signed", _hmac(stamp=b"1e10")),
    ("xms_signed", _hmac(stamp=b"nan")),
    ("xms_signed", _hmac(stamp="١٨٠٠٠٠٠٠٠٠".encode())),  # Arabic-Indic digits
    ("xms_signed", _hmac(sig="sïgnature".encode())),
    ("xms_signed", _hmac(sig=b"\xff\xfe\xfd")),
    ("xms_signed", _hmac(sig=b"A" * 6000)),
    ("xms_signed", _hmac(nonce=b"\xc3\x28")),
    ("classic", _classic(b"Application app-key:abc", b"9" * 400)),
    ("classic", _classic(b"Application app-key:abc", b"+99999-01-01T00:00:00Z")),
    ("classic", _classic(b"Application app-key:abc", b"2014-13-45T99:99:99Z")),
    ("classic", _classic(b"Application app-key:abc", b"\xff\xff")),
    ("classic", _classic("Application clé:sïg".encode(), iso_timestamp(NOW).encode())),
    ("classic", _classic(b"Application app-key:" + b"=" * 5000, iso_timestamp(NOW).encode())),
    ("classic", _classic(b"Application", iso_timestamp(NOW).encode())),
    ("ct", _basic(b"!!!not base64!!!")),
    ("ct", _basic(base64.b64encode(b"\xff\xfe:\xff"))),
    ("ct", _basic(base64.b64encode("usér:pässword".encode()))),
    ("ct", _basic(b"\xe2\x82\xac" * 100)),
]


@pytest.mark.parametrize("plan, headers", HOSTILE_HEADERS)
async def test_hostile_headers_are_401_never_500(tmp_path: Path, plan: str, headers: list[tuple[bytes, bytes]]) \
        -> None:
    async with served(tmp_path) as (lst, store):
        port = int(lst.url.rsplit(":", 1)[1])
        status = await raw_status(port, f"/callbacks/{plan}", headers, classic_inbound())
        stored = lst.stats.stored_reports + lst.stats.stored_inbound
    assert status in (400, 401) and stored == 0


def _deep(levels: int) -> bytes:
    return b'{"type": "mo_text", "from": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b', "to": "1"}'


HOSTILE_BODIES: list[tuple[str, bytes, bytes]] = [
    ("xms", b"application/json", b"{not json"),
    ("xms", b"application/json", b""),
    ("xms", b"application/json", b"\xff\xfe\x00garbage"),
    ("xms", b"application/json", b'{"type": "mo_text", "from": "\xff", "to": "1", "body": "x"}'),
    ("xms", b"application/json", b"[" * 5000 + b"]" * 5000),
    ("xms", b"application/json", _deep(900)),
    ("xms", b"application/json", _deep(3000)),
    ("xms", b"application/json", b"null"),
    ("xms", b"application/json", b'"a string"'),
    ("xms", b"application/json", b'{"type": ["recipient_delivery_report_sms"]}'),
    ("xms", b"application/json", b'{"type": {"a": 1}}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": 5, "recipient": {"a": 1},'
                                 b' "status": []}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": "B1", '
                                 b'"recipient": 46700000001, "status": "Delivered", "at": 1e308, "code": 1e300}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": "B1", '
                                 b'"recipient": "46700000001", "status": "Delivered", "at": "' + b"9" * 400 + b'"}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": "B1", '
                                 b'"recipient": 123456789012345678901234567890, "status": "Delivered"}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": "B1", '
                                 b'"recipient": 1e400, "status": "Delivered"}'),
    ("xms", b"application/json", b'{"type": "recipient_delivery_report_sms", "batch_id": "B1", '
                                 b'"recipient": "46700000001", "status": "Delivered", "at": "+99999-01-01"}'),
    ("xms", b"application/json", b'{"type": "delivery_report_sms", "batch_id": "B1", "statuses": [1, 2]}'),
    ("xms", b"application/json", b'{"type": "delivery_report_sms", "batch_id": "B1", "statuses": '
                                 b'[{"status": "Delivered", "recipients": [{"x": 1}, null, 5.5]}]}'),
    ("xms", b"application/json", b'{"type": "delivery_report_sms", "batch_id": "B1", "statuses": {"a": 1}}'),
    ("xms", b"application/json", b'{"type": "mo_text", "from": "1", "to": "2", "body": {"x": [1]}}'),
    ("xms", b"application/json", b'{"type": "mo_media", "from": "1", "to": "2", "body": "not an object"}'),
    ("xms", b"application/json", b'{"type": "mo_media", "from": "1", "to": "2", "body": {"media": "x"}}'),
    ("xms", b"application/json", b'{"type": "mo_media", "from": "1", "to": "2", "body": {"media": [1, "x"]}}'),
    ("xms", b"application/json", b'{"type": "mo_text", "from": "' + b"4" * 100000 + b'", "to": "2"}'),
    ("ct_open", b"application/json", b'{"data": {"apiMessageId": ["x"], "messageStatus": {"a": 1}}}'),
    ("ct_open", b"application/json", b'{"data": {"apiMessageId": "api-1", "messageStatus": 1e400}}'),
    ("ct_open", b"application/json", b'{"data": {"apiMessageId": "api-1", "to": "2799900001", '
                                      b'"messageStatus": "004", "timestamp": 1e308}}'),
    ("ct_open", b"application/x-www-form-urlencoded", b"apiMsgId=\xff\xfe&status=%ff%fe&to=%00"),
    ("ct_open", b"application/x-www-form-urlencoded", b"moMsgId=1&from=" + b"9" * 1000 + b"&text=%C3%28"),
    ("ct_open", b"text/plain", b"whatever"),
    ("classic", b"application/json", b'{"event": "incomingSms", "to": "x", "from": ["y"]}'),
    ("classic", b"application/json", b'{"event": "incomingSms", "to": {}, "from": {"endpoint": {"a": 1}}}'),
    ("classic", b"application/json", b'{"event": "incomingSms", "to": {}, "from": {"endpoint": "1"}, '
                                     b'"timestamp": "' + b"9" * 400 + b'", "message": 5}'),
    ("classic", b"application/json", b'{"event": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
]


@pytest.mark.parametrize("plan, ctype, body", HOSTILE_BODIES)
async def test_hostile_bodies_are_4xx_never_500(tmp_path: Path, plan: str, ctype: bytes, body: bytes) -> None:
    async with served(tmp_path, max_body=256 * 1024) as (lst, store):
        port = int(lst.url.rsplit(":", 1)[1])
        headers = [(b"Content-Type", ctype)]
        if plan == "classic":  # always signed: sign the hostile body, so it reaches the parser
            signed = sign_classic("POST", "/callbacks/classic", body, ctype.decode(), "app-key", SECRET,
                                  iso_timestamp(NOW))
            headers += [(b"Authorization", signed["Authorization"].encode()),
                        (b"x-timestamp", signed["x-timestamp"].encode())]
        status = await raw_status(port, f"/callbacks/{plan}", headers, body)
        unauthorized = lst.stats.unauthorized
    assert 0 < status < 500 and unauthorized == 0


@pytest.mark.parametrize("chunked", [
    b"zz\r\nabc\r\n0\r\n\r\n",  # a chunk size that is not hex
    b"5\r\nabc",  # a chunk cut short, then nothing (408 after the body timeout)
    b"ffffffffffffffffffff\r\nabc\r\n",  # a chunk size past any limit
])
async def test_broken_transfer_encoding_is_never_500(tmp_path: Path, chunked: bytes, caplog: Any) -> None:
    async with served(tmp_path, limits=ServeLimits(body_timeout=0.5)) as (lst, _store):
        port = int(lst.url.rsplit(":", 1)[1])
        status = await raw_status(port, "/callbacks/xms", [(b"Content-Type", b"application/json")], b"", chunked)
    assert status < 500  # 0: the server closed the connection, which is a refusal too
    assert not any(r.exc_info for r in caplog.records)  # the caller's fault: one line, no traceback


async def test_gzip_that_is_not_gzip_is_never_500(tmp_path: Path, caplog: Any) -> None:
    async with served(tmp_path) as (lst, _store):
        port = int(lst.url.rsplit(":", 1)[1])
        status = await raw_status(port, "/callbacks/xms", [(b"Content-Type", b"application/json"),
                                                            (b"Content-Encoding", b"gzip")], b"not gzip at all")
    assert 0 < status < 500
    assert not any(r.exc_info for r in caplog.records)
