"""One lock per journal *file*: symlinks, hard links and relative paths meet the
same lock; anything that is not a regular file is refused as a journal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import write_numbers

HOLD = """
import asyncio, sys
from bulksend.journal import Journal, store
from bulksend.journal.records import ListSource, Target
from bulksend.models import Message

async def main():
    async with await Journal.open(sys.argv[1]) as journal:
        if await journal.campaign("held") is None:
            await journal.write(store.create_campaign, "held", Target("a", "sinch_xms", "p1", "http://x"),
                                Message("hi"), ListSource("list.txt"), None, None, journal.clock())
        print("holding", flush=True)
        await asyncio.to_thread(sys.stdin.readline)

asyncio.run(main())
"""


@contextmanager
def holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the journal open for sending, through ``path``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def bulksend(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bulksend", *args], check=False, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def send_args(tmp_path: Path, journal: str) -> list[str]:
    config = tmp_path / "c.toml"
    config.write_text('[plans.a]\nprovider = "sinch_xms"\nservice_plan_id = "p1"\n'
                      'base_url = "http://127.0.0.1:9"\nrate = 100\n', encoding="utf-8")
    return ["send", "-c", str(config), "--plan", "a", "-r", str(write_numbers(tmp_path / "n.txt", 10)),
            "-m", "hi", "--campaign", "c", "--journal", journal, "--no-progress"]


def assert_refused_at_once(result: subprocess.CompletedProcess[str], shown: str, pid: int, waited: float) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"bulksend: journal {shown} is in use by another bulksend (pid {pid}); "
                                     "wait for it to finish or stop it (Ctrl-C) first")
    assert waited < 10  # at once: no busy timeout, no hang (the bound is start-up time on a busy machine)


@pytest.mark.parametrize("alias", ["symlink", "hardlink", "relative", "symlinked-dir"])
def test_a_second_sender_through_another_name_of_the_same_file_is_refused(tmp_path: Path, alias: str) -> None:
    real = tmp_path / "real" / "journal.db"
    real.parent.mkdir()
    other = tmp_path / "other.db"
    cwd = None
    if alias == "symlink":
        other.symlink_to(real)
    elif alias == "symlinked-dir":
        (tmp_path / "dir").symlink_to(real.parent)
        other = tmp_path / "dir" / "journal.db"
    with holder(real) as proc:
        if alias == "hardlink":
            os.link(real, other)
        shown = str(other)
        if alias == "relative":
            cwd, shown = real.parent, "journal.db"
        started = time.monotonic()
        result = bulksend(*send_args(tmp_path, shown), cwd=cwd)
        assert_refused_at_once(result, shown, proc.pid, time.monotonic() - started)
        status = bulksend("status", "held", "--journal", shown, cwd=cwd)
        if alias == "hardlink":  # SQLite finds the WAL by name: a second name would read stale data
            assert status.returncode == 2 and status.stderr.strip() == (
                f"bulksend: journal {other} has 2 names (hard links); SQLite keeps its log beside one name, "
                "so a journal must have only one: remove the other links")
        else:  # status reads alongside the sender and names it, by whichever name
            assert status.returncode == 0 and f"(pid {proc.pid})" in status.stdout, status.stderr
    assert not list(tmp_path.rglob("*.lock"))  # no lock file beside any name
    if alias == "hardlink":
        return
    # once the holder is gone, nobody holds the file
    again = bulksend("status", "held", "--journal", shown, cwd=cwd)
    assert again.returncode == 0 and "pid" not in again.stdout


def test_the_journal_and_its_wal_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        journal = tmp_path / "j.db"
        with holder(journal):
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("j.db*")}
    finally:
        os.umask(old)
    assert modes["j.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_dev_null_is_refused_as_a_journal_and_nothing_is_created_beside_it(tmp_path: Path) -> None:
    before = set(os.listdir("/dev"))
    result = bulksend(*send_args(tmp_path, "/dev/null"))
    assert result.returncode == 2
    assert result.stderr.strip() == ("bulksend: journal /dev/null is a character device, not a file; "
                                     "give --journal the path of a file")
    assert set(os.listdir("/dev")) == before and not os.path.exists("/dev/null.lock")
    status = bulksend("status", "--journal", "/dev/null")
    assert status.returncode == 2 and "is a character device, not a file" in status.stderr


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink-to-fifo"])
def test_a_fifo_or_a_directory_is_refused_as_a_journal(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "j.db"
    if kind == "directory":
        path.mkdir()
    else:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        if kind == "fifo":
            path = fifo
        else:
            path.symlink_to(fifo)
    result = bulksend(*send_args(tmp_path, str(path)))
    what = "a directory" if kind == "directory" else "a FIFO"
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"journal {path} is {what}, not a file" in result.stderr and "Traceback" not in result.stderr
    expected = {"c.toml", "n.txt", "j.db"} if kind != "fifo" else {"c.toml", "n.txt"}
    assert {p.name for p in tmp_path.iterdir()} == expected | ({"fifo"} if kind != "directory" else set())
