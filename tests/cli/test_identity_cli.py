"""``bulksend send`` under a known campaign name: another list is refused in one line, exit 2;
``--allow-changes`` sends the new recipients only and says how many."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import write_config, write_numbers


def send(tmp_path: Path, recipients: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulksend", "send", "-c", str(tmp_path / "c.toml"), "--plan", "a",
         "-r", str(recipients), "-m", "hi", "--campaign", "spring", "--journal", str(tmp_path / "j.db"),
         "--no-progress", *extra],
        capture_output=True, text=True, timeout=120, check=False)


def test_another_list_is_refused_and_allow_changes_adds_the_new_recipients(
        tmp_path: Path, sandbox_process: Any) -> None:
    sb = sandbox_process()
    write_config(tmp_path / "c.toml", sb.url)
    first = send(tmp_path, write_numbers(tmp_path / "n.txt", 200))
    assert first.returncode == 0, first.stderr
    longer = write_numbers(tmp_path / "longer.txt", 260)
    refused = send(tmp_path, longer)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1 and "Traceback" not in refused.stderr
    assert "campaign 'spring'" in lines[0] and "a different list" in lines[0] and "longer.txt" in lines[0]
    assert sb.stats()["plans"]["p1"]["recipients"] == 200
    taken = send(tmp_path, longer, "--allow-changes")
    assert taken.returncode == 0, taken.stderr
    assert "the new inputs added 60 recipients not yet in campaign spring" in taken.stderr
    stats = sb.stats()["plans"]["p1"]
    assert stats["recipients"] == 260 and stats["numbers_received_more_than_once"] == 0
