"""A journal file that cannot be used: damaged, foreign, locked. Clear error, file untouched."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.journal import CampaignState, Journal, JournalError, store
from bulksend.journal.records import ListSource, Target
from bulksend.models import Message
from tests.helpers import write_numbers
from tests.helpers import stage_all


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def send_argv(tmp_path: Path, journal: Path) -> list[str]:
    config = tmp_path / "c.toml"
    config.write_text('[plans.a]\nprovider = "sinch_xms"\nservice_plan_id = "p1"\n'
                      'base_url = "http://127.0.0.1:9"\nrate = 100\n', encoding="utf-8")
    return ["send", "-c", str(config), "--plan", "a", "-r", str(write_numbers(tmp_path / "n.txt", 10)),
            "-m", "hi", "--campaign", "c", "--journal", str(journal), "--no-progress"]


def make_journal(path: Path, tmp_path: Path) -> None:
    async def go() -> None:
        async with await Journal.open(path) as journal:
            c = await journal.write(store.create_campaign, "c", Target("a", "sinch_xms", "p1", "http://127.0.0.1:9"),
                                    Message("hi"), ListSource(str(write_numbers(tmp_path / "list.txt", 3000))),
                                    None, None, journal.clock())
            await stage_all(journal, c)
            await journal.write(store.finish_staging, c.id, {}, 0.0, journal.clock())
    asyncio.run(go())


def test_a_file_of_garbage_is_refused_by_name_and_left_as_it_is(tmp_path: Path, capsys) -> None:
    journal = tmp_path / "journal.db"
    journal.write_bytes(os.urandom(3000))
    before = digest(journal)
    assert main(send_argv(tmp_path, journal)) == 2
    err = capsys.readouterr().err
    assert f"journal {journal} is damaged or not a bulksend journal" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert main(["status", "--journal", str(journal)]) == 2
    assert digest(journal) == before


def test_a_damaged_journal_is_refused_and_left_as_it_is(tmp_path: Path, capsys) -> None:
    journal = tmp_path / "journal.db"
    make_journal(journal, tmp_path)
    size = journal.stat().st_size
    with journal.open("r+b") as f:  # keep the header page, scribble over the rest
        f.seek(4096)
        f.write(b"\xa5" * (size - 4096))
    before = digest(journal)
    assert main(["status", "c", "--journal", str(journal)]) == 2
    assert main(send_argv(tmp_path, journal)) == 2
    err = capsys.readouterr().err
    assert "is damaged or not a bulksend journal (database disk image is malformed)" in err
    assert digest(journal) == before


def test_a_second_bulksend_on_the_same_journal_is_told_at_once(tmp_path: Path, capsys) -> None:
    path = tmp_path / "journal.db"
    make_journal(path, tmp_path)

    async def hold_and_try() -> tuple[int, float, int]:
        async with await Journal.open(path):  # "the other bulksend", still sending
            started = time.monotonic()
            code = await asyncio.to_thread(main, send_argv(tmp_path, path))
            waited = time.monotonic() - started
            status = await asyncio.to_thread(main, ["status", "c", "--journal", str(path)])
            return code, waited, status

    code, waited, status = asyncio.run(hold_and_try())
    captured = capsys.readouterr()
    assert code == 2 and waited < 3.0
    assert f"journal {path} is in use by another bulksend (pid {os.getpid()})" in captured.err
    assert status == 0 and f"(pid {os.getpid()})" in captured.out  # status reads alongside a sender


def test_a_foreign_sqlite_lock_times_out_with_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    make_journal(path, tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")

    async def try_write() -> None:
        async with await Journal.open(path, busy_timeout=0.2) as journal:
            c = await journal.campaign("c")
            assert c is not None
            await journal.write(store.set_state, c.id, CampaignState.PAUSED, "x", journal.clock())

    with pytest.raises(JournalError, match="locked by another program"):
        asyncio.run(try_write())
    other.execute("ROLLBACK")
    other.close()

    async def read() -> tuple[int, str]:
        async with await Journal.open(path) as journal:
            c = await journal.campaign("c")
            assert c is not None
            return (await journal.read(store.counts, c.id)).pending, c.state.value

    assert asyncio.run(read()) == (3000, "staging")


def test_status_of_a_missing_journal_says_so(tmp_path: Path, capsys) -> None:
    assert main(["status", "--journal", str(tmp_path / "nope.db")]) == 2
    assert "no journal at" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_random_bytes_mid_file_are_found_at_open_by_send_and_resume(tmp_path: Path, capsys) -> None:
    """Damage the header read never reaches (a page in the middle): quick_check finds it."""
    journal = tmp_path / "journal.db"
    make_journal(journal, tmp_path)
    pages = journal.stat().st_size // 4096
    assert pages > 6
    with journal.open("r+b") as f:
        f.seek(4096 * (pages // 2) + 100)
        f.write(os.urandom(2000))
    before = digest(journal)
    argv = send_argv(tmp_path, journal)
    argv[argv.index("--campaign") + 1] = "another"  # a new campaign would not read the damaged pages
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bulksend: journal {journal} is damaged or not a bulksend journal (") and "quick_check" in err
    assert err.count("\n") == 1
    assert main(["resume", "c", "-c", str(tmp_path / "c.toml"), "--journal", str(journal)]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert digest(journal) == before


@pytest.mark.parametrize(("raised", "kind"), [
    (sqlite3.OperationalError("database or disk is full"), "machine"),
    (sqlite3.OperationalError("disk I/O error"), "machine"),
    (OSError(28, "No space left on device"), "machine"),
    (OSError(5, "Input/output error"), "machine"),
    (sqlite3.DatabaseError("database disk image is malformed"), "input"),
    (OSError(13, "Permission denied"), "input"),
])
def test_a_failing_disk_is_the_machine_s_fault_a_bad_file_the_input_s(tmp_path: Path, raised: BaseException,
                                                                       kind: str) -> None:
    from bulksend.errors import MachineFailure

    error = Journal(tmp_path / "j.db")._translate(raised)
    assert isinstance(error, MachineFailure if kind == "machine" else JournalError)
    assert str(error).startswith(f"journal {tmp_path / 'j.db'}") and "\n" not in str(error)
