"""A full disk under the journal: the run stops with one line and exit 75; once
space is freed, ``resume`` finishes and every recipient got the message once.

The disk is a real, small file system: a tmpfs, else a loop-mounted ext4
image; the test is skipped only where neither can be mounted (no privilege).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import write_config, write_numbers

SIZE = 8 * 1024 * 1024
LEFT = 300_000  # bytes left free: the journal of a few thousand recipients outgrows it mid-send
RECIPIENTS = 5000


def _mount(args: list[str]) -> bool:
    return subprocess.run(args, check=False, capture_output=True).returncode == 0


@contextmanager
def small_file_system(where: Path) -> Iterator[Path]:
    mnt = where / "mnt"
    mnt.mkdir()
    mounted = shutil.which("mount") is not None and _mount(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mnt)])
    if not mounted and shutil.which("mkfs.ext4"):
        image = where / "disk.img"
        with image.open("wb") as f:
            f.truncate(SIZE)
        mounted = (_mount(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)])
                   and _mount(["mount", "-o", "loop", str(image), str(mnt)]))
    if not mounted:
        pytest.skip("cannot mount a small file system here (no tmpfs or loop mount privilege)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def fill(mnt: Path, leave: int) -> Path:
    """A file taking all the space but ``leave`` bytes."""
    filler = mnt / "filler"
    free = shutil.disk_usage(mnt).free
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def bulksend(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bulksend", *args], check=False, capture_output=True,
                          text=True, timeout=120)


def test_a_full_disk_stops_the_run_resumably_and_resume_sends_everyone_once(sandbox_process, tmp_path: Path) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url, rate=20_000, max_batch=10, timeout=1)
    numbers = write_numbers(tmp_path / "n.txt", RECIPIENTS)
    with small_file_system(tmp_path) as mnt:
        journal = str(mnt / "journal.db")
        filler = fill(mnt, LEFT)
        first = bulksend("send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi",
                         "--campaign", "c", "--journal", journal, "--no-progress")
        assert first.returncode == 75, first.stderr
        assert "Traceback" not in first.stderr and "Task exception" not in first.stderr
        errors = [line for line in first.stderr.splitlines() if "disk is full" in line]
        assert errors == [(f"bulksend: journal {journal}: database or disk is full; nothing after the last "
                           "commit was recorded. Free space (or fix the disk), then 'bulksend resume'")]
        sent = sb.stats()["plans"]["p1"]["recipients"]
        assert 0 < sent < RECIPIENTS  # it stopped part-way

        # status and report only read: they work on the full disk
        status = bulksend("status", "c", "--journal", journal)
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
        report = bulksend("report", "c", "--journal", journal, "--out", str(tmp_path / "report.csv"))
        assert report.returncode == 0, report.stderr
        assert len((tmp_path / "report.csv").read_text().splitlines()) == RECIPIENTS + 1

        filler.unlink()
        again = bulksend("resume", "c", "-c", str(config), "--journal", journal, "--no-progress")
        assert again.returncode == 0, again.stderr
        assert "Traceback" not in again.stderr and "Task exception" not in again.stderr

        # on a read-only file system, too
        assert _mount(["mount", "-o", "remount,ro", str(mnt)])
        status = bulksend("status", "c", "--journal", journal)
        assert status.returncode == 0 and "done" in status.stdout, status.stderr
        report = bulksend("report", "c", "--journal", journal, "--out", str(tmp_path / "again.csv"))
        assert report.returncode == 0, report.stderr
    plan = sb.stats()["plans"]["p1"]
    assert plan["distinct_numbers"] == RECIPIENTS and plan["recipients"] == RECIPIENTS
    assert plan["max_receipts_per_number"] == 1
