"""The command line of scale-out: clear errors, exit 2, nothing sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import write_config, write_numbers


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bulksend", *args], check=False, capture_output=True, text=True, timeout=30)


def test_detach_without_a_broker_and_broker_without_a_journal_are_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    numbers = write_numbers(tmp_path / "l.txt", 3)
    base = ["send", "--config", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi"]
    detach = _run(*base, "--detach")
    assert detach.returncode == 2 and "--detach needs --broker" in detach.stderr
    no_journal = _run(*base, "--broker", "redis://127.0.0.1:9/0", "--no-journal")
    assert no_journal.returncode == 2 and "--broker needs the journal" in no_journal.stderr


def test_worker_with_an_unknown_plan_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    got = _run("worker", "--config", str(config), "--broker", "redis://127.0.0.1:9/0", "--plans", "nope")
    assert got.returncode == 2 and "no plan named 'nope'" in got.stderr and "Traceback" not in got.stderr
