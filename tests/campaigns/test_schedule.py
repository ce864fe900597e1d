"""Scheduled blasts: send_at at the provider (XMS), held by bulksend otherwise; cancel."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bulksend.api import build_spec
from bulksend.config import PlanConfig
from bulksend.engine import CampaignRun
from bulksend.engine.campaign import EXIT_OK, EXIT_RESUMABLE
from bulksend.errors import InputError
from bulksend.journal import Journal, JournalSettings, resume_campaign, send_journaled
from bulksend.campaigns.cancel import cancel_campaign
from bulksend.campaigns.schedule import parse_time, to_utc_text
from bulksend.campaigns.status import list_views
from bulksend.cli.render import status_list
from bulksend.providers import FACTORIES, SinchXms
from bulksend.sandbox import SandboxConfig
from tests.helpers import make_config, plan_table, write_numbers

PLAN_ID = "p1"


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-05-01T09:00:00+02:00", "2026-05-01T07:00:00Z"),
    ("2026-05-01T09:00:00", "2026-05-01T09:00:00Z"),          # no offset: UTC
    ("2026-05-01T09:00:00Z", "2026-05-01T09:00:00Z"),
    ("2026-05-01 09:00:00.250-05:00", "2026-05-01T14:00:00.250Z"),
])
def test_send_at_takes_iso_8601_and_means_utc_without_an_offset(text: str, utc: str) -> None:
    assert to_utc_text(parse_time(text)) == utc


def test_a_time_that_is_not_iso_8601_is_an_input_error() -> None:
    with pytest.raises(InputError, match="--send-at 'tomorrow at nine': not an ISO-8601 time"):
        parse_time("tomorrow at nine")


def iso_in(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, timezone.utc).isoformat()


async def views(settings: JournalSettings) -> str:
    async with await Journal.open(settings.path, readonly=True) as journal:
        return status_list(await list_views(journal))


async def test_xms_gets_send_at_and_cancel_withdraws_the_scheduled_batches(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=200)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c",
                          send_at="2030-01-01T10:00:00+01:00", expire_at="2030-01-02T10:00:00+01:00")
        out = await send_journaled(config, spec, settings)
        assert out.exit_code == EXIT_OK and out.start_at == "2030-01-01T09:00:00Z"
        records = list(sb.state.plans[PLAN_ID].batches.values())
        assert {(r.data["send_at"], r.data["expire_at"]) for r in records} == {
            ("2030-01-01T09:00:00Z", "2030-01-02T09:00:00Z")}
        assert "2030-01-01T09:00:00Z (at the provider)" in await views(settings)
        cancelled = await cancel_campaign(settings, "c", config)
        assert (cancelled.withdrawn_batches, cancelled.withdrawn_recipients) == (5, 1000)
        assert all(r.canceled for r in sb.state.plans[PLAN_ID].batches.values())
        assert cancelled.counts.cancelled == 1000 and cancelled.counts.accepted == 0
        with pytest.raises(InputError, match="was cancelled"):
            await resume_campaign(config, "c", settings)


def no_send_at(plan: PlanConfig, env: Any) -> SinchXms:
    """XMS as a provider that cannot schedule (Clickatell, Sinch Classic)."""
    return replace(SinchXms(plan.base_url, str(plan.options["service_plan_id"]), "sandbox"), supports_send_at=False)


async def test_without_provider_scheduling_bulksend_holds_the_campaign_until_its_time(
        tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTORIES, "sinch_xms", no_send_at)
    numbers = write_numbers(tmp_path / "n.txt", 500)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    start = time.time() + 1.5
    started: list[float] = []
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c",
                          send_at=datetime.fromtimestamp(start, timezone.utc).isoformat())
        task = asyncio.ensure_future(send_journaled(config, spec, settings, handle_signals=True,
                                                    on_start=lambda run: started.append(time.time())))
        while "scheduled" not in (listing := await views(settings) if Path(settings.path).exists() else ""):
            await asyncio.sleep(0.02)
        assert "(held by bulksend)" in listing and sb.state.stats()["plans"] == {}
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while held: it stays scheduled
        held = await task
        assert held.exit_code == EXIT_RESUMABLE and held.state == "scheduled" and held.summary is None
        out = await resume_campaign(config, "c", settings)  # waits again, then sends
        batches = list(sb.state.plans[PLAN_ID].batches.values())
    assert not started  # the interrupted run never started sending
    assert out.exit_code == EXIT_OK and out.counts.accepted == 500
    assert time.time() >= start and all("send_at" not in r.data for r in batches)


async def test_a_held_campaign_whose_time_has_passed_starts_at_once(
        tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTORIES, "sinch_xms", no_send_at)
    numbers = write_numbers(tmp_path / "n.txt", 100)
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c", send_at=iso_in(-30))  # within the minute of grace
        runs: list[CampaignRun] = []
        out = await send_journaled(config, spec, JournalSettings(path=str(tmp_path / "j.db")),
                                   on_start=runs.append)
    assert out.exit_code == EXIT_OK and runs and sb.state.stats()["plans"][PLAN_ID]["recipients"] == 100


async def test_cancel_of_a_held_campaign_sends_nothing(tmp_path: Path, sandbox,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTORIES, "sinch_xms", no_send_at)
    numbers = write_numbers(tmp_path / "n.txt", 100)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c", send_at=iso_in(3600))
        task = asyncio.ensure_future(send_journaled(config, spec, settings, handle_signals=True))
        while "scheduled" not in (await views(settings) if Path(settings.path).exists() else ""):
            await asyncio.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)
        assert (await task).state == "scheduled"
        cancelled = await cancel_campaign(settings, "c")  # no config needed: nothing is at the provider
    assert cancelled.was == "scheduled" and cancelled.counts.pending == 100
    assert sb.state.stats()["plans"] == {}
