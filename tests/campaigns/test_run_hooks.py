"""The hooks a run that sends through other hands uses (``bulksend.scaleout``'s
``BrokerRun``): ``run=`` and ``on_new=`` of the entry points, and
``JournaledRun``'s ``_engine``, ``_held_elsewhere`` and ``_finished``. Through
the in-memory transport and an injected clock, like the look-back tests."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bulksend.api import build_spec
from bulksend.campaigns import JournalSettings, resume_campaign, send_journaled
from bulksend.campaigns.runner import JournaledRun, JournalSummary
from bulksend.engine import Engine
from bulksend.engine.campaign import EXIT_OK
from bulksend.engine.transport import MockTransport
from bulksend.errors import InputError
from bulksend.journal import Journal, store
from bulksend.journal.records import BatchState
from tests.campaigns.test_reconcile_lookback import (
    HOUR,
    T0,
    Clock,
    FakeSinch,
    config,
    killed_with_batches_in_flight,
)
from tests.helpers import write_numbers


class HoldsTheFirst(JournaledRun):
    """A run whose first in-flight batch is still held elsewhere (as by a broker's workers)."""

    transport: MockTransport
    finished: ClassVar[list[JournalSummary]] = []

    def _engine(self) -> Engine:
        return Engine(self.config, env=self.env, transport=self.transport)

    async def _held_elsewhere(self, engine: Engine) -> frozenset[int]:
        rows = await self.journal.read(store.batches_in, self.campaign.id, (BatchState.IN_FLIGHT,))
        return frozenset({min(r.seq for r in rows)})

    async def _finished(self, result: JournalSummary) -> JournalSummary:
        self.finished.append(result)
        return result


async def test_a_batch_held_elsewhere_is_neither_asked_about_nor_sent_and_the_run_waits_for_it(
        tmp_path: Path) -> None:
    clock = Clock(T0)
    sinch = FakeSinch(clock)
    numbers = write_numbers(tmp_path / "n.txt", 500)
    await killed_with_batches_in_flight(tmp_path / "j.db", numbers, sinch, clock, in_flight=3)
    transport = MockTransport(sinch.handle)
    run: Any = type("Run", (HoldsTheFirst,), {"transport": transport, "finished": []})
    clock.now = T0 + HOUR
    out = await resume_campaign(config(), "c", JournalSettings(path=str(tmp_path / "j.db")), clock=clock, run=run)
    assert out.reconciled["batches"] == 2 and out.reconciled["found"] == 200  # the held one was not asked about
    assert len([r for r in transport.requests if r.method == "GET"]) == 2
    assert out.state == "paused" and out.counts.in_flight == 100 and out.counts.accepted == 400
    assert max(sinch.received.values()) == 1 and len(sinch.received) == 500  # the held batch was not sent again
    assert run.finished == [out]


async def test_on_new_hears_the_name_after_the_checks_and_can_refuse_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heard: list[str] = []

    async def refuse(name: str) -> None:
        heard.append(name)
        raise InputError(f"the name {name!r} is taken")

    spec = build_spec(plan="a", recipients=str(write_numbers(tmp_path / "n.txt", 10)), message="hi", campaign="c")
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    with pytest.raises(InputError, match="'c' is taken"):
        await send_journaled(config(), spec, settings, on_new=refuse)
    assert heard == ["c"]
    async with await Journal.open(tmp_path / "j.db") as journal:
        assert await journal.campaign("c") is None  # refused before the campaign was created

    sinch = FakeSinch(Clock(T0))
    run = functools.partial(_Plain, transport=MockTransport(sinch.handle))
    out = await send_journaled(config(), spec, settings, run=run)  # with no on_new, the same spec is sent
    assert out.exit_code == EXIT_OK and out.counts.accepted == 10 and len(sinch.received) == 10


class _Plain(JournaledRun):
    def __init__(self, *args: Any, transport: MockTransport) -> None:
        super().__init__(*args)
        self.transport = transport

    def _engine(self) -> Engine:
        return Engine(self.config, env=self.env, transport=self.transport)
