"""The progress line: its total, estimated from the list's lines, exact once the list is read."""

from __future__ import annotations

import gzip
from pathlib import Path

from bulksend.api import build_spec, send_campaign
from bulksend.engine import CampaignRun
from bulksend.engine.campaign import CampaignStats
from bulksend.journal import JournalSettings, send_journaled
from bulksend.cli.progress import progress_line
from bulksend.recipients import count_lines
from bulksend.sandbox import SandboxConfig
from tests.helpers import make_config, plan_table


def stats(**values: int) -> CampaignStats:
    s = CampaignStats(started=0.0)
    for key, value in values.items():
        setattr(s, key, value)
    return s


def test_the_total_is_estimated_from_lines_until_the_list_is_read() -> None:
    # 1,002 lines: a header, 1,000 numbers and a bad line
    s = stats(total_hint=1002, recipients_read=1001, invalid=1, sent=500)
    assert "500/1,001" in progress_line(s, width=10, now=1.0)  # the header still counts
    assert "ETA --:--" in progress_line(stats(total_hint=10), now=1.0)  # nothing sent yet: no rate
    s.list_read()
    assert "500/1,000" in progress_line(s, width=10, now=1.0)
    s.sent = 1000
    assert progress_line(s, width=10, now=1.0).startswith("[##########] 1,000/1,000  1,000/s  ETA 0:00")


def test_recipients_waiting_from_before_count_in_the_total() -> None:
    s = stats(total_hint=300, recipients_read=200, duplicates=20)
    s.list_read(waiting=100)  # a journal held 100 from an earlier run
    assert s.total == 280


def test_without_a_total_the_line_says_what_was_sent() -> None:
    assert progress_line(stats(sent=42), now=2.0).startswith("42 sent  21/s  elapsed 0:02")


def test_lines_are_counted_in_gzipped_lists_too(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "n.txt.gz", "wt") as f:
        f.write("46701000001\n46701000002\n")
    (tmp_path / "broken.gz").write_bytes(b"not gzip")
    assert count_lines(str(tmp_path / "n.txt.gz")) == 2
    assert count_lines(str(tmp_path / "broken.gz")) is None
    assert count_lines("-") is None


def _list(tmp_path: Path) -> Path:
    path = tmp_path / "n.csv"
    rows = [f"4670{i:07d},N{i}" for i in range(1000)] + ["070,bad", "46700000003,again"]
    path.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


async def test_a_run_knows_its_total_once_it_has_read_the_list(sandbox, tmp_path: Path) -> None:
    runs: list[CampaignRun] = []
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(_list(tmp_path)), message="Hi ${name}", campaign="p")
        summary = await send_campaign(config, spec, on_start=runs.append)
        journaled = await send_journaled(config, build_spec(plan="a", recipients=str(_list(tmp_path)),
                                                            message="Hi ${name}", campaign="q"),
                                         JournalSettings(path=str(tmp_path / "j.db")), on_start=runs.append)
    assert summary.sent == 1000 and journaled.counts.accepted == 1000
    for run in runs:
        assert run.stats.total_hint == 1002  # every line of the file but the CSV header
        assert run.stats.total == 1000
        assert "1,000/1,000" in progress_line(run.stats)


def test_the_rate_is_over_the_last_ten_seconds() -> None:
    from bulksend.cli.progress import RecentRate

    recent = RecentRate(window=10.0)
    assert recent.add(0.0, 0) == 0.0
    for t in range(1, 21):  # 100/s for 10 s, then nothing for 10 s
        rate = recent.add(float(t), min(t, 10) * 100)
    assert rate == 0.0  # the average since the start would still say 50/s
    assert recent.add(25.0, 1500) == 50.0  # 500 more over the last 10 s


def test_the_bar_fills_with_accepted_recipients_only() -> None:
    s = stats(total=100, sent=0, failed=40, not_sent=60)
    line = progress_line(s, width=10, now=1.0, rate=0.0)
    assert line.startswith("[xxxx......] 0/100")  # failed drawn apart; nothing accepted
    assert "failed 40" in line and "not sent 60" in line and "ETA 0:00" not in line
    s = stats(total=100, sent=50, in_flight=20)
    assert progress_line(s, width=10, now=1.0, rate=10.0).startswith("[#####.....] 50/100  10/s  ETA 0:05")
    assert "in flight 20" in progress_line(s, width=10, now=1.0, rate=10.0)


def test_when_nothing_gets_through_the_line_says_why_and_what_it_waits_for() -> None:
    from bulksend.engine.campaign import RetryWait

    s = stats(total=200)
    s.problem = "provider unreachable: connection refused"
    s.retry = RetryWait(3, 8, at=14.2)
    line = progress_line(s, width=10, now=10.5, rate=0.0)
    assert "0/200  0/s  — provider unreachable: connection refused — retry 3/8 in 4 s" in line
    assert "ETA" not in line
    s.sent = 10  # something got through again: the rate speaks, not the last failure
    assert "unreachable" not in progress_line(s, width=10, now=10.5, rate=5.0)


def test_go_on_with_names_the_paths_given() -> None:
    from bulksend.cli.render import go_on_with

    assert go_on_with("spring", "/etc/bulk send.toml", "/var/j.db") == \
        "bulksend resume spring --config '/etc/bulk send.toml' --journal /var/j.db"
    assert go_on_with("spring") == "bulksend resume spring --config <the campaign's config file>"
