"""A campaign's inputs are part of its identity: another list or message under a known name is refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bulksend.api import build_spec
from bulksend.campaigns import JournalSettings, RunOptions, send_journaled
from bulksend.campaigns.identity import (
    Inputs,
    file_fingerprint,
    input_changes,
    inputs_of,
)
from bulksend.engine.campaign import EXIT_OK
from bulksend.errors import InputError
from bulksend.sandbox import SandboxConfig
from tests.helpers import make_config, plan_table, write_numbers


def received(sb: Any) -> dict[str, int]:
    return dict(sb.state.stats()["plans"]["p1"])


def test_a_fingerprint_is_size_and_hash_and_sees_a_change_of_the_same_size(tmp_path: Path) -> None:
    a = write_numbers(tmp_path / "a.txt", 100)
    b = write_numbers(tmp_path / "b.txt", 100, start=46_700_000_500)  # same size, other numbers
    fa, fb = file_fingerprint(str(a)), file_fingerprint(str(b))
    assert fa.split(":")[0] == fb.split(":")[0] == str(a.stat().st_size) and fa != fb
    os.utime(a, ns=(1, 1))  # touched, same bytes: the same list
    assert file_fingerprint(str(a)) == fa and file_fingerprint("-") == ""
    changes = input_changes(inputs_of(str(a), []), inputs_of(str(b), []))
    assert len(changes) == 1 and "a different list" in changes[0] and "other content" in changes[0]


def test_exclude_lists_and_old_campaigns_without_fingerprints(tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 10)
    stop = write_numbers(tmp_path / "stop.txt", 2)
    before = inputs_of(str(numbers), [str(stop)])
    assert Inputs.from_json(before.to_json()) == before and Inputs.from_json("") is None
    assert input_changes(None, before) == []  # a campaign from before fingerprints were kept
    assert input_changes(before, inputs_of(str(numbers), [str(stop)])) == []
    write_numbers(stop, 3)
    (change,) = input_changes(before, inputs_of(str(numbers), [str(stop)]))
    assert change.startswith("a different exclude list") and "stop.txt" in change
    (dropped,) = input_changes(before, inputs_of(str(numbers), []))
    assert "stop.txt" in dropped


async def test_the_same_list_again_has_nothing_left_to_send(tmp_path: Path, sandbox: Any) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    events: list[str] = []
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        assert (await send_journaled(config, spec, settings)).exit_code == EXIT_OK
        os.utime(numbers, ns=(1, 1))  # touched but the same bytes
        again = await send_journaled(config, spec, settings, on_event=events.append)
        stats = received(sb)
    assert again.exit_code == EXIT_OK and again.summary is None and again.counts.accepted == 300
    assert "nothing left to send in campaign c" in events and stats["recipients"] == 300


async def test_another_list_or_message_under_the_name_is_refused_naming_it(tmp_path: Path, sandbox: Any) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    other = write_numbers(tmp_path / "other.txt", 300, start=46_711_000_000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        assert (await send_journaled(config, build_spec(plan="a", recipients=str(numbers), message="hi",
                                                        campaign="c"), settings)).exit_code == EXIT_OK
        with pytest.raises(InputError, match=r"another list than now: a different list \(.*other\.txt"):
            await send_journaled(config, build_spec(plan="a", recipients=str(other), message="hi", campaign="c"),
                                 settings)
        with pytest.raises(InputError, match=r"another message than now: a different message \(body\)"):
            await send_journaled(config, build_spec(plan="a", recipients=str(numbers), message="hello",
                                                    campaign="c"), settings)
        with pytest.raises(InputError, match=r"a different message \(sender \(--from\)\); a different list"):
            await send_journaled(config, build_spec(plan="a", recipients=str(other), message="hi", sender="Shop",
                                                    campaign="c"), settings)
        stats = received(sb)
    assert stats["recipients"] == 300  # the refused sends sent nothing


async def test_a_paused_campaign_given_another_list_is_refused_too(tmp_path: Path, sandbox: Any) -> None:
    from tests.campaigns.test_journal_resume import stop_after

    numbers = write_numbers(tmp_path / "n.txt", 2000)
    other = write_numbers(tmp_path / "other.txt", 2000, start=46_711_000_000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=4000, burst=400)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        first = await send_journaled(config, spec, settings, on_start=stop_after(500))
        assert first.state == "paused"
        with pytest.raises(InputError, match="a different list"):
            await send_journaled(config, build_spec(plan="a", recipients=str(other), message="hi", campaign="c"),
                                 settings)
        done = await send_journaled(config, spec, settings)
        stats = received(sb)
    assert done.exit_code == EXIT_OK and done.counts.accepted == 2000
    assert stats["distinct_numbers"] == 2000 and stats["numbers_received_more_than_once"] == 0


async def test_allow_changes_sends_only_the_new_recipients_of_a_longer_list_and_says_how_many(
        tmp_path: Path, sandbox: Any) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    events: list[str] = []
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        assert (await send_journaled(config, spec, settings)).exit_code == EXIT_OK
        longer = write_numbers(tmp_path / "longer.txt", 450)  # the 300 and 150 more
        with (tmp_path / "longer.txt").open("a") as f:
            f.write("46700000007\n")  # a repeat: de-duplication still applies
        out = await send_journaled(config, build_spec(plan="a", recipients=str(longer), message="hi", campaign="c"),
                                   settings, options=RunOptions(allow_changes=True), on_event=events.append)
        stats = received(sb)
    assert out.exit_code == EXIT_OK and out.state == "done" and out.counts.accepted == 450
    assert out.summary is not None and out.summary.sent == 150
    assert stats["recipients"] == 450 and stats["numbers_received_more_than_once"] == 0
    assert "the new inputs added 150 recipients not yet in campaign c" in events


async def test_a_list_touched_with_the_same_bytes_goes_on_without_allow_changes(tmp_path: Path, sandbox: Any) -> None:
    from bulksend.campaigns import resume_campaign
    from tests.campaigns.test_journal_resume import stop_after

    numbers = write_numbers(tmp_path / "n.txt", 200_000)
    settings = JournalSettings(path=str(tmp_path / "j.db"))
    async with sandbox(SandboxConfig(open_plans=True)) as sb:
        config = make_config({"a": plan_table(sb.url, rate=4000, burst=400)})
        spec = build_spec(plan="a", recipients=str(numbers), message="hi", campaign="c")
        first = await send_journaled(config, spec, settings, on_start=stop_after(500))
        assert first.state == "paused" and first.counts.total < 200_000, first.counts  # the list is not all read yet
        os.utime(numbers, ns=(1, 1))  # copied back or touched: a new mtime, the same bytes
        second = await send_journaled(config, spec, settings, on_start=stop_after(500))
        assert second.state == "paused"
        os.utime(numbers, ns=(2, 2))
        fast = make_config({"a": plan_table(sb.url, rate=1_000_000, burst=1000, max_batch=1000)})
        done = await resume_campaign(fast, "c", settings)
        stats = received(sb)
    assert done.exit_code == EXIT_OK and done.counts.accepted == 200_000
    assert stats["distinct_numbers"] == 200_000 and stats["numbers_received_more_than_once"] == 0
