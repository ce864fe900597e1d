"""Journaled campaigns against the real sandbox: resume, reconcile, changed configs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulksend.api import build_spec
from bulksend.config import Config, PlanConfig
from bulksend.engine.campaign import EXIT_FAILED, EXIT_OK, EXIT_RESUMABLE
from bulksend.errors import InputError
from bulksend.journal import Journal, JournalLedger, JournalSettings, RunOptions, resume_campaign, send_journaled, store
from bulksend.journal.records import ListSource
from bulksend.campaigns.service import target_of
from bulksend.models import Batch, HttpRequest, Message
from bulksend.providers import FACTORIES, SinchXms
from bulksend.sandbox import SandboxConfig
from tests.helpers import free_port, make_config, plan_table, stop_after, write_numbers
from tests.helpers import stage_all

PLAN_ID = "p1"


def received(sb: Any) -> dict[str, Any]:
    return dict(sb.state.stats()["plans"].get(PLAN_ID, {}))


@dataclass(frozen=True, slots=True)
class BlindXms(SinchXms):
    """XMS that cannot be asked about a batch (as Clickatell or Sinch Classic)."""

    def lookup_request(self, batch: Batch) -> HttpRequest | None:  # type: ignore[override]
        return None


def blind(plan: PlanConfig, env: Any) -> SinchXms:
    return BlindXms(plan.base_url, str(plan.options["service_plan_id"]), "sandbox")


async def post(request: HttpRequest) -> int:
    async with aiohttp.ClientSession() as s, s.request(request.method, request.url, headers=request.headers,
                                                       data=request.body) as resp:
        return resp.status


async def crashed_with_two_in_flight(config: Config, settings: JournalSettings, numbers: Path,
                                     deliver_first: bool) -> None:
    """The journal as a killed process leaves it: batches 0 and 1 recorded in flight,
    batch 0 taken by the provider (if ``deliver_first``), batch 1 never sent."""
    plan = config.plan("a")
    async with await Journal.open(settings.path) as journal:
        c = await journal.write(store.create_campaign, "c", target_of(plan), Message("hi"), ListSource(str(numbers)),
                                None, None, journal.clock())
        await stage_all(journal, c)
        await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
        ledger = JournalLedger(journal, await journal.read(store.get_campaign, c.id))
        source = ledger.batches(type("Run", (), {"batch_size": 100, "stopping": False})())  # type: ignore[arg-type]
        first, second = [await anext(source), await anext(source)]
        await ledger.before_send(first)
        await ledger.before_send(second)
    if deliver_first:
        xms = SinchXms(plan.base_url, PLAN_ID, "sandbox")
        assert await post(xms.send_request(first, Message("hi"))) == 201


async def test_resume_asks_the_provider_about_batches_left_in_flight(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, timeout=0.5)})  # resume waits that long first
        await crashed_with_two_in_flight(config, settings, numbers, deliver_first=True)
        out = await resume_campaign(config, "c", settings)
        stats = received(sb)
    assert out.exit_code == EXIT_OK and out.state == "done"
    assert out.reconciled == {"found": 100, "returned": 100, "unknown": 0, "batches": 2, "asked_again": 0,
                              "too_old": 0}
    assert out.summary is not None and out.summary.sent == 900  # batch 0 was not sent again
    assert stats["distinct_numbers"] == 1000 and stats["numbers_received_more_than_once"] == 0
    assert out.counts.accepted == 1000


async def test_a_provider_that_cannot_be_asked_leaves_unknown_until_resend_unknown(
        tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTORIES, "sinch_xms", blind)
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, timeout=0.5)})
        await crashed_with_two_in_flight(config, settings, numbers, deliver_first=False)
        out = await resume_campaign(config, "c", settings)
        assert out.reconciled["unknown"] == 200 and out.counts.unknown == 200
        assert out.exit_code == EXIT_FAILED and out.state == "done"
        assert received(sb)["distinct_numbers"] == 800
        again = await resume_campaign(config, "c", settings, options=RunOptions(resend_unknown=True))
        stats = received(sb)
    assert again.exit_code == EXIT_OK and again.counts.accepted == 1000 and again.counts.unknown == 0
    assert stats["distinct_numbers"] == 1000 and stats["numbers_received_more_than_once"] == 0


async def test_paused_campaign_resumes_with_a_new_rate_but_not_a_new_provider_or_message(
        tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 5000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True, seed=3).with_faults(accept_drop_rate=0.05)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=10_000)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        first = await send_journaled(config, spec, settings, on_start=stop_after(1000))
        assert first.exit_code == EXIT_RESUMABLE and first.state == "paused"
        assert first.reason == "stopped by the test" and 0 < first.counts.accepted < 5000
        other_account = make_config({"a": plan_table(sb.url, service_plan_id="elsewhere")})
        with pytest.raises(InputError, match="another provider.*--allow-changes"):
            await resume_campaign(other_account, "c", settings)
        with pytest.raises(InputError, match="another message"):
            await send_journaled(config, build_spec(plan="a", recipients=str(numbers), message="hello",
                                                    campaign="c"), settings)
        slower = make_config({"a": plan_table(sb.url, rate=50_000, concurrency=2, max_batch=50, burst=500)})
        done = await resume_campaign(slower, "c", settings)
        stats = received(sb)
    assert done.exit_code == EXIT_OK and done.state == "done" and done.counts.accepted == 5000
    assert stats["distinct_numbers"] == 5000 and stats["numbers_received_more_than_once"] == 0
    assert "elsewhere" not in sb.state.stats()["plans"]  # the refused runs sent nothing


async def test_allow_changes_takes_the_new_message_for_the_rest(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 2000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=4000, burst=400)})  # slow enough to stop midway
        spec = build_spec(plan="a", recipients=str(numbers), message="one", campaign="c")
        assert (await send_journaled(config, spec, settings, on_start=stop_after(500))).exit_code == EXIT_RESUMABLE
        spec2 = build_spec(plan="a", recipients=str(numbers), message="two", campaign="c")
        out = await send_journaled(config, spec2, settings, options=RunOptions(allow_changes=True))
        bodies = {r.data["body"] for r in sb.state.plans[PLAN_ID].batches.values()}
        stats = received(sb)
    assert out.exit_code == EXIT_OK and bodies == {"one", "two"}
    assert stats["distinct_numbers"] == 2000 and stats["numbers_received_more_than_once"] == 0


async def test_a_done_campaign_sends_nothing_again_and_a_default_name_is_new(tmp_path: Path, sandbox) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        assert (await send_journaled(config, spec, settings)).exit_code == EXIT_OK
        again = await send_journaled(config, spec, settings)
        fresh = await send_journaled(config, spec, settings, fresh=True)
        stats = received(sb)
    assert again.exit_code == EXIT_OK and again.summary is None and again.counts.accepted == 300
    assert fresh.campaign == "c-2" and fresh.counts.accepted == 300
    assert stats["recipients"] == 600 and stats["max_receipts_per_number"] == 2  # once per campaign


async def test_the_journal_never_holds_the_token(tmp_path: Path, sandbox) -> None:
    secret = "s3cr3t-token-value-123"
    numbers = write_numbers(tmp_path / "n.txt", 200)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, token_env="TEST_TOKEN")})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        out = await send_journaled(config, spec, settings, env={"TEST_TOKEN": secret})
    assert out.exit_code == EXIT_OK
    for name in ("j.db", "j.db-wal", "j.db.lock"):
        path = tmp_path / name
        if path.exists():
            assert secret.encode() not in path.read_bytes()


@pytest.mark.parametrize("fails_at", [1, 4])
async def test_a_run_that_crashes_part_way_through_the_list_is_paused_not_done(
        tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch, fails_at: int) -> None:
    from bulksend.journal.staging import Stager

    numbers = write_numbers(tmp_path / "n.txt", 5000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    take = Stager.take
    calls = 0

    def failing_take(self: Stager) -> Any:
        nonlocal calls
        calls += 1
        if calls == fails_at:
            raise RuntimeError("the disk went away")
        return take(self)

    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=100)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        with monkeypatch.context() as m:
            m.setattr(Stager, "take", failing_take)
            m.setattr(Stager, "__init__", _small_blocks(Stager.__init__))
            first = await send_journaled(config, spec, settings)
        assert first.state == "paused" and first.exit_code == EXIT_FAILED
        assert "RuntimeError: the disk went away" in first.reason
        read = 1000 * (fails_at - 1)  # the blocks read before the failure, of five
        assert first.counts.total == read and first.counts.accepted <= read
        done = await resume_campaign(config, "c", settings)
        stats = received(sb)
    assert done.exit_code == EXIT_OK and done.state == "done" and done.counts.accepted == 5000
    assert stats["distinct_numbers"] == 5000 and stats["numbers_received_more_than_once"] == 0


def _small_blocks(init: Any) -> Any:
    """Stager.__init__ reading the list 1,000 lines a block, so it has several."""
    def small(self: Any, *args: Any, **kw: Any) -> None:
        init(self, *args, **kw)
        self.block = 1000
    return small


async def test_an_outage_pauses_the_campaign_and_resume_sends_the_rest_once(tmp_path: Path) -> None:
    from bulksend.sandbox import running

    numbers = write_numbers(tmp_path / "n.txt", 3000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    port = free_port()  # the provider is down: nothing listens here yet
    config = make_config({"a": plan_table(f"http://127.0.0.1:{port}", timeout=0.5,
                                          retry={"initial": 0.001, "max": 0.002, "jitter": 0, "attempts": 3})})
    spec = build_spec(plan="a", recipients=str(numbers), message="hello", campaign="c")
    down = await send_journaled(config, spec, settings)
    assert down.exit_code == EXIT_RESUMABLE and down.state == "paused" and "cannot connect" in down.reason
    assert down.counts.failed == down.counts.unknown == down.counts.accepted == 0
    assert down.counts.pending == 3000
    async with running(SandboxConfig(open_plans=True), port=port) as sb:  # it is back, at the same address
        out = await resume_campaign(config, "c", settings)
        stats = received(sb)
    assert out.exit_code == EXIT_OK and out.counts.accepted == 3000
    assert stats["distinct_numbers"] == 3000 and stats["numbers_received_more_than_once"] == 0
