"""The live view of a load test: one line per second off the recorder (a clock
that is always past every second, so nothing here sleeps)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.loadtest.live import LiveView, second_line
from bulksend.sandbox import SandboxConfig, SandboxPlan
from tests.loadtest.test_loadtest_report_fixes import run_of
from tests.loadtest.test_loadtest_sandbox import sandbox_thread, write_config


async def test_prints_each_second_as_it_ends() -> None:
    rec = run_of(100, 3.0, 3.0, rate_limited_every=10)
    out = io.StringIO()
    view = LiveView(out, clock=lambda: 1e9)
    view.watch(rec)
    for _ in range(10):
        await asyncio.sleep(0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("  second   1: sent 100 of 100, accepted 90")
    assert "429s 10" in lines[0] and "late 0" in lines[0] and "dropped 0" in lines[0]
    assert "p50 2.01 ms" in lines[0] and "p99 2.01 ms" in lines[0]  # 2 ms, at 2 figures
    view.close()
    assert len(out.getvalue().splitlines()) == 3  # nothing printed twice


async def test_close_prints_what_is_left_and_marks_a_partial_second() -> None:
    rec = run_of(100, 10.0, 2.5, stopped="interrupted")
    out = io.StringIO()
    view = LiveView(out, clock=lambda: rec.start)  # no second has ended yet
    view.watch(rec)
    await asyncio.sleep(0)
    view.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[2].endswith("(its first 0.5 s)")
    assert "sent 50 of 50" in lines[2]


def test_a_second_with_no_answers_yet() -> None:
    from bulksend.loadtest.recorder import Second

    assert "p50 -  p99 -" in second_line(0, Second(target=5))


def test_the_cli_prints_live_lines_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sandbox_thread(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)})) as sb:
        path = str(write_config(tmp_path, sb.url))
        assert main(["loadtest", "-c", path, "--plan", "demo", "--rate", "100", "--duration", "2"]) == 0
        captured = capsys.readouterr()
        assert "second   1: sent 100 of 100, accepted 100" in captured.err
        assert "second   2: sent 100 of 100" in captured.err
        assert "second   1:" not in captured.out  # the table stays on stdout, the live lines off it
        assert main(["loadtest", "-c", path, "--plan", "demo", "--rate", "100", "--duration", "0.5",
                     "--no-progress"]) == 0
        assert "second   1:" not in capsys.readouterr().err
