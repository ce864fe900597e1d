"""Every summary's counts add up: a full send, a stopped one (with and without a journal), a
resume, a cancelled campaign, and ``status`` while a campaign runs.

The rule checked on every summary: what the run had from before plus what it read equals
what it screened out plus where every recipient it took on ended::

    waiting + read = invalid + duplicates + excluded + sent + failed + unknown + not_sent
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bulksend.api import build_spec, send_campaign
from bulksend.campaigns import JournalSettings, resume_campaign, send_journaled
from bulksend.campaigns.cancel import cancel_campaign
from bulksend.campaigns.status import campaign_view, list_views
from bulksend.cli.render import outcome_text, status_list, status_one, summary_text
from bulksend.engine import CampaignRun, CampaignSummary
from bulksend.journal import Journal
from bulksend.sandbox import Faults, SandboxConfig
from tests.helpers import make_config, plan_table

LIST = 2_000


def write_list(path: Path) -> Path:
    """2,000 numbers, 5 invalid lines, 10 repeats: 1,985 to send."""
    rows = [f"4670{i:07d}" for i in range(1_985)] + ["070bad"] * 5 + [f"4670{i:07d}" for i in range(10)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def check(s: CampaignSummary) -> None:
    """The arithmetic of one summary, and of its text."""
    assert s.waiting + s.recipients_read == (s.invalid + s.duplicates + s.excluded + s.sent + s.failed
                                             + s.unknown + s.not_sent), s
    assert s.batches <= s.requests  # a batch is counted when its request leaves
    assert s.requests == s.batches + s.retries
    if s.parts:
        assert s.parts["recipients"] <= s.recipients_read - s.invalid - s.duplicates - s.excluded
    text = summary_text(s)
    figures = {name: int(value.replace(",", "")) for name, value in
               re.findall(r"(read|invalid|sent|failed|not sent)\s+([0-9,]+)", text)}
    assert figures["read"] == s.recipients_read and figures["sent"] == s.sent
    assert figures["not sent"] == s.not_sent
    if s.waiting:
        assert f"from before{s.waiting:>10,}" in text


def stop_after(accepted: int) -> tuple[list[CampaignRun], object]:
    runs: list[CampaignRun] = []

    def on_start(run: CampaignRun) -> None:
        runs.append(run)

        async def watch() -> None:
            while run.stats.sent < accepted and not run.done:
                await asyncio.sleep(0.005)
            run.stop("stopped by the test")
        asyncio.ensure_future(watch())
    return runs, on_start


SLOW = SandboxConfig(open_plans=True, faults=Faults(latency_ms=20))


async def test_a_full_send_adds_up(sandbox, tmp_path: Path) -> None:
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        s = await send_campaign(config, build_spec(plan="a", recipients=str(write_list(tmp_path / "n.txt")),
                                                   message="hi", campaign="full"))
    check(s)
    assert (s.sent, s.invalid, s.duplicates, s.not_sent) == (1_985, 5, 10, 0)
    assert s.batches == 20  # 1,985 in batches of 100


async def test_a_stopped_send_without_a_journal_adds_up(sandbox, tmp_path: Path) -> None:
    _runs, on_start = stop_after(300)
    async with sandbox(SLOW) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=20, concurrency=2)})
        s = await send_campaign(config, build_spec(plan="a", recipients=str(write_list(tmp_path / "n.txt")),
                                                   message="hi", campaign="stopped"), on_start=on_start)
    check(s)
    assert 300 <= s.sent < 1_985 and s.not_sent > 0
    assert s.exit_code == 75
    assert s.parts["recipients"] <= s.recipients_read


async def test_a_stopped_journaled_send_and_its_resume_add_up(sandbox, tmp_path: Path) -> None:
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    _runs, on_start = stop_after(300)
    async with sandbox(SLOW) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=20, concurrency=2)})
        spec = build_spec(plan="a", recipients=str(write_list(tmp_path / "n.txt")), message="hi", campaign="j")
        first = await send_journaled(config, spec, settings, on_start=on_start)
        assert first.summary is not None and first.state == "paused"
        check(first.summary)
        assert first.summary.sent == first.counts.accepted
        # what the journal still holds to send is what the summary says was not sent
        assert first.summary.not_sent == first.counts.pending + first.counts.in_flight
        assert "go on with: bulksend resume j --config cfg.toml --journal j.db" in \
            outcome_text(first, "cfg.toml", "j.db")

        second = await resume_campaign(config, "j", settings)
    assert second.summary is not None and second.state == "done"
    check(second.summary)
    s = second.summary
    assert s.waiting == first.counts.pending  # held by the journal: not read again
    assert s.recipients_read == LIST - first.summary.recipients_read  # the rest of the list, read now
    assert first.summary.sent + s.sent == second.counts.accepted == second.counts.total == 1_985


async def test_a_cancelled_campaign_is_not_listed_as_complete(sandbox, tmp_path: Path) -> None:
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    _runs, on_start = stop_after(200)
    async with sandbox(SLOW) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=20, concurrency=2)})
        spec = build_spec(plan="a", recipients=str(write_list(tmp_path / "n.txt")), message="hi", campaign="c")
        first = await send_journaled(config, spec, settings, on_start=on_start)
    cancelled = await cancel_campaign(settings, "c")
    n = cancelled.counts
    async with await Journal.open(settings.path, readonly=True) as journal:
        views = await list_views(journal)
    line = status_list(views).splitlines()[1]
    assert "cancelled" in line
    assert f"{n.accepted:,} accepted" in line or f"{n.accepted:,}/{n.total:,}" in line
    assert "100%" not in line
    assert n.accepted == first.counts.accepted < n.total


async def test_status_while_running_shows_no_more_in_flight_than_the_plan_can_send(sandbox, tmp_path: Path) -> None:
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    seen: list[tuple[int, int, int]] = []
    async with sandbox(SLOW) as sb:
        config = make_config({"a": plan_table(sb.url, max_batch=20, concurrency=2)})
        cap = 2 * 20

        def on_start(run: CampaignRun) -> None:
            async def look() -> None:
                while not run.done:
                    await asyncio.sleep(0.05)
                    async with await Journal.open(settings.path, readonly=True) as journal:
                        view = await campaign_view(journal, "s", config)
                    if view.state == "running":
                        text = status_one(view, config_path="cfg.toml")
                        shown = int(re.search(r"in flight\s+([0-9,]+)", text).group(1).replace(",", ""))  # type: ignore[union-attr]
                        seen.append((shown, view.ahead, view.counts.in_flight))
                        n = view.counts
                        assert n.pending + n.in_flight + n.accepted + n.failed + n.unknown + n.cancelled == n.total
            asyncio.ensure_future(look())

        spec = build_spec(plan="a", recipients=str(write_list(tmp_path / "n.txt")), message="hi", campaign="s")
        done = await send_journaled(config, spec, settings, on_start=on_start)
    assert done.state == "done" and seen
    assert all(shown <= cap and shown + ahead == in_flight for shown, ahead, in_flight in seen)
