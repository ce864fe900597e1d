"""Resume against a provider that keeps Sinch's look-back window, and after the
provider was unreachable: through the in-memory transport, with an injected
clock, no server and no real waiting.

``FakeSinch`` applies the window Sinch documents for ``GET .../batches``:
``start_date`` defaults to now - 24 h, ``end_date`` to now, and a
``start_date`` more than 14 days back is refused (400).
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from bulksend.api import build_spec
from bulksend.campaigns import (
    JournalLedger,
    JournalSettings,
    RunOptions,
    resume_campaign,
    send_journaled,
)
from bulksend.campaigns import runner as runner_module
from bulksend.campaigns.reconcile import MARGIN_S, lookup_window
from bulksend.campaigns.service import target_of
from bulksend.engine import Engine
from bulksend.engine.campaign import EXIT_FAILED, EXIT_OK, EXIT_RESUMABLE
from bulksend.engine.transport import MockTransport
from bulksend.errors import AmbiguousOutcome, Unreachable
from bulksend.journal import Journal, store
from bulksend.journal.records import ListSource
from bulksend.models import HttpRequest, HttpResponse, Message
from bulksend.providers.xms import LOOKBACK_S
from tests.helpers import make_config, plan_table, stage_all, write_numbers

URL = "http://127.0.0.1:9"  # never connected to: the transport answers
HOUR = 3600.0
DAY = 24 * HOUR
T0 = 1_800_000_000.0  # when the first run sent


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class FakeSinch:
    """XMS batches with Sinch's list window, on the test's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.batches: dict[str, dict[str, Any]] = {}  # client_reference -> batch
        self.received: Counter[str] = Counter()      # number -> times sent to it
        self.lookups: list[dict[str, list[str]]] = []

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            return self.create(request)
        return self.list(request)

    def create(self, request: HttpRequest) -> HttpResponse:
        data = orjson.loads(request.body)
        batch = {"id": f"B{len(self.batches) + 1}", **data, "created_at": self.clock()}
        self.batches[data["client_reference"]] = batch
        self.received.update(data["to"])
        return HttpResponse(201, {}, orjson.dumps(batch))

    def list(self, request: HttpRequest) -> HttpResponse:
        query = parse_qs(urlsplit(request.url).query)
        self.lookups.append(query)
        now = self.clock()
        start = parse_time(query["start_date"][0]) if "start_date" in query else now - DAY
        end = parse_time(query["end_date"][0]) if "end_date" in query else now
        if start < now - 14 * DAY:
            return HttpResponse(400, {}, orjson.dumps({"code": "syntax_constraint_violation",
                                                       "text": "start_date is more than 14 days ago"}))
        ref = query["client_reference"][0]
        found = [b for r, b in self.batches.items() if r == ref and start <= b["created_at"] <= end]
        return HttpResponse(200, {}, orjson.dumps({"page": 0, "page_size": 100, "count": len(found),
                                                   "batches": found}))


def config() -> Any:
    return make_config({"a": plan_table(URL, concurrency=1, timeout=5.0,
                                        retry={"initial": 0.001, "max": 0.002, "jitter": 0, "attempts": 3})})


def through(monkeypatch: pytest.MonkeyPatch, transport: MockTransport) -> None:
    """Journaled runs send through ``transport`` (the runner makes its own Engine)."""
    monkeypatch.setattr(runner_module, "Engine", functools.partial(Engine, transport=transport))


async def killed_with_batches_in_flight(path: Path, numbers: Path, sinch: FakeSinch, clock: Clock,
                                        in_flight: int) -> None:
    """The journal as a process killed at ``T0`` leaves it: ``in_flight`` batches of 100
    recorded in flight, and every one of them taken by the provider."""
    plan = config().plan("a")
    async with await Journal.open(path, clock=clock) as journal:
        c = await journal.write(store.create_campaign, "c", target_of(plan), Message("hi"), ListSource(str(numbers)),
                                None, None, journal.clock())
        await stage_all(journal, c)
        await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
        ledger = JournalLedger(journal, await journal.read(store.get_campaign, c.id))
        source = ledger.batches(type("Run", (), {"batch_size": 100, "stopping": False})())  # type: ignore[arg-type]
        for _ in range(in_flight):
            batch = await anext(source)
            await ledger.before_send(batch)
            body = orjson.dumps({"to": list(batch.numbers), "client_reference": batch.client_reference})
            sinch.create(HttpRequest("POST", f"{URL}/xms/v1/p1/batches", {}, body))


def test_the_window_starts_before_the_batch_left_and_stops_at_the_limit() -> None:
    window = lookup_window(T0, T0 + 25 * HOUR, LOOKBACK_S)
    assert window is not None and window.start == T0 - MARGIN_S and window.end == T0 + 25 * HOUR + MARGIN_S
    assert lookup_window(T0, T0 + 13 * DAY, LOOKBACK_S) is not None
    assert lookup_window(T0, T0 + 14 * DAY, LOOKBACK_S) is None  # the margin would reach past 14 days
    assert lookup_window(T0, T0 + 400 * DAY, None) is not None  # a provider without a limit


async def test_resumed_a_day_later_every_batch_in_flight_is_found_and_none_is_resent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(T0)
    sinch = FakeSinch(clock)
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    await killed_with_batches_in_flight(tmp_path / "j.db", numbers, sinch, clock, in_flight=8)
    through(monkeypatch, transport := MockTransport(sinch.handle))
    clock.now = T0 + 25 * HOUR
    out = await resume_campaign(config(), "c", settings, clock=clock)
    assert out.exit_code == EXIT_OK and out.state == "done" and out.counts.accepted == 1000
    assert (out.reconciled["batches"], out.reconciled["found"], out.reconciled["returned"]) == (8, 800, 0)
    assert max(sinch.received.values()) == 1 and len(sinch.received) == 1000  # no one messaged twice
    lookups = [r for r in transport.requests if r.method == "GET"]
    assert len(lookups) == 8 and all("start_date=" in r.url and "end_date=" in r.url for r in lookups)


async def test_resumed_after_the_look_back_the_batches_stay_unknown_until_resend_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(T0)
    sinch = FakeSinch(clock)
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    await killed_with_batches_in_flight(tmp_path / "j.db", numbers, sinch, clock, in_flight=3)
    through(monkeypatch, transport := MockTransport(sinch.handle))
    clock.now = T0 + 15 * DAY
    events: list[str] = []
    out = await resume_campaign(config(), "c", settings, clock=clock, on_event=events.append)
    assert out.exit_code == EXIT_FAILED and out.state == "done"
    assert out.reconciled["unknown"] == out.reconciled["too_old"] == 300 and out.reconciled["returned"] == 0
    assert out.counts.unknown == 300 and out.counts.accepted == 700
    assert not [r for r in transport.requests if r.method == "GET"]  # never asked beyond what it can list
    assert max(sinch.received.values()) == 1  # and never resent on a guess
    assert any("14 days" in e and "--resend-unknown" in e and "300" in e for e in events)
    async with await Journal.open(tmp_path / "j.db", readonly=True) as journal:
        c = await journal.campaign("c")
        assert c is not None
        errors = await journal.read(store.last_errors, c.id)
    assert any("lookback" in e and "at most 14 days back" in e for e in errors)

    clock.now += HOUR
    again = await resume_campaign(config(), "c", settings, clock=clock, options=RunOptions(resend_unknown=True))
    assert again.exit_code == EXIT_OK and again.counts.accepted == 1000 and again.counts.unknown == 0
    assert sum(1 for n in sinch.received.values() if n == 2) == 300  # what the operator asked for


async def test_unknowns_left_by_an_unreachable_provider_are_asked_about_again_once_it_is_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(T0)
    sinch = FakeSinch(clock)
    down = {"now": False}

    def handler(request: HttpRequest) -> HttpResponse:
        if down["now"]:
            raise Unreachable("cannot connect to 127.0.0.1:9: Connection refused")
        if request.method == "POST" and len(sinch.batches) == 2:
            sinch.create(request)  # the provider takes the third batch, then goes away
            down["now"] = True
            raise AmbiguousOutcome("connection to 127.0.0.1:9 broke", code="disconnected")
        return sinch.handle(request)

    through(monkeypatch, MockTransport(handler))
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
    first = await send_journaled(config(), spec, settings, clock=clock)
    assert first.exit_code == EXIT_RESUMABLE and first.state == "paused"
    assert first.counts.accepted == 200 and first.counts.unknown == 100  # the third batch: taken, not known

    clock.now += HOUR  # still down: nothing is settled on a guess
    still = await resume_campaign(config(), "c", settings, clock=clock)
    assert still.exit_code == EXIT_RESUMABLE and "cannot reconcile" in still.reason
    assert still.counts.unknown == 100

    down["now"] = False  # back
    clock.now += HOUR
    back = await resume_campaign(config(), "c", settings, clock=clock)
    assert back.exit_code == EXIT_OK and back.state == "done"
    assert back.reconciled["asked_again"] == 1 and back.reconciled["found"] == 100
    assert back.counts.accepted == 1000 and back.counts.unknown == 0
    assert len(sinch.received) == 1000 and max(sinch.received.values()) == 1


def test_the_xms_lookup_names_its_span_in_sinchs_time_format() -> None:
    from bulksend.models import Batch, Numbers
    from bulksend.providers import build_provider
    from bulksend.providers.base import LookupWindow

    xms = build_provider(config().plan("a"), {})
    batch = Batch("c", 4, Numbers(["46700000001"]))
    plain = xms.lookup_request(batch)
    assert plain is not None and "start_date" not in plain.url  # Sinch's default: the last 24 hours
    asked = xms.lookup_request(batch, LookupWindow(1_800_000_000.0, 1_800_000_000.25))
    assert asked is not None
    query = parse_qs(urlsplit(asked.url).query)
    assert query["client_reference"] == ["c:4"]
    assert query["start_date"] == ["2027-01-15T08:00:00.000Z"] and query["end_date"] == ["2027-01-15T08:00:00.250Z"]
