"""The journal from the command line: defaults, demo re-runs, resume/cancel messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulksend.cli import main
from tests.helpers import write_numbers


@pytest.fixture
def journal_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ws" / "journal.db"
    monkeypatch.setenv("BULKSEND_JOURNAL", str(path))
    return path


def test_demo_runs_again_and_again_on_the_default_journal(tmp_path: Path, journal_env: Path, capsys) -> None:
    for _ in range(2):
        assert main(["demo", "--recipients", "300", "--workdir", str(tmp_path / "d"), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "0 more than once" in out.out and "campaign demo-2 done" in out.err
    assert main(["status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["campaign"], c["state"], c["counts"]["accepted"]) for c in listed] == [
        ("demo", "done", 300), ("demo-2", "done", 300)]  # 300 lines: no bad one yet


def test_send_journals_by_default_and_no_journal_keeps_none(tmp_path: Path, journal_env: Path, sandbox_url: str,
                                                             capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[plans.a]\nprovider = "sinch_xms"\nservice_plan_id = "p1"\nbase_url = "{sandbox_url}"\n'
                      'rate = 100000\nburst = 1000\n', encoding="utf-8")
    numbers = write_numbers(tmp_path / "n.txt", 50)
    argv = ["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi", "--no-progress"]
    assert main([*argv, "--no-journal"]) == 0
    # No campaign is journaled; the file holds only the delivery tables (who was accepted, for track/listen).
    capsys.readouterr()
    assert main(["status", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    assert main([*argv, "--campaign", "c"]) == 0
    out = capsys.readouterr().out
    assert f"journal {journal_env}: campaign c done; accepted 50 of 50" in out
    assert main(["resume", "nope", "-c", str(config)]) == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err
    assert main(["cancel", "c"]) == 0
    assert "campaign c cancelled (was done)" in capsys.readouterr().out
    assert main(["resume", "c", "-c", str(config)]) == 2
    assert "was cancelled" in capsys.readouterr().err


@pytest.fixture
def sandbox_url() -> object:
    """A sandbox in a thread of its own, for CLI calls that run their own event loop."""
    import asyncio
    import threading

    from bulksend.sandbox import SandboxConfig, running

    ready: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        async def go() -> None:
            async with running(SandboxConfig(open_plans=True)) as sb:
                ready.append(sb.url)
                while not stop.is_set():
                    await asyncio.sleep(0.02)
        asyncio.run(go())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    while not ready:
        thread.join(0.01)
    yield ready[0]
    stop.set()
    thread.join(5)
