"""The progress line as a person sees it: ``bulksend send`` in a pseudo-terminal (pexpect).

The screen is what the terminal received; each redraw starts with a carriage
return, so the lines drawn are the pieces between them.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from tests.helpers import free_port, write_config, write_numbers

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(args: list[str], cwd: Path, columns: int, no_color: bool = False) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm", "COLUMNS": str(columns)}
    if not no_color:
        env.pop("NO_COLOR", None)
    return pexpect.spawn(sys.executable, ["-m", "bulksend", *args], cwd=str(cwd), env=env,
                         dimensions=(24, columns), encoding="utf-8", timeout=60)


def screen_lines(raw: str) -> list[str]:
    """Every line the terminal was drawn, colours removed."""
    return [ANSI.sub("", piece) for piece in re.split(r"\r\n|\r|\n", raw) if ANSI.sub("", piece).strip()]


def bars(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("[") and "]" in line]


def test_a_provider_that_is_down_never_fills_the_bar_and_the_line_says_why(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", f"http://127.0.0.1:{free_port()}", max_batch=10,
                          concurrency=2, retry={"initial": 0.3, "max": 0.5, "jitter": 0.05, "attempts": 4})
    numbers = write_numbers(tmp_path / "n.txt", 200)
    child = spawn(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi",
                   "--journal", str(tmp_path / "j.db")], tmp_path, columns=120)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 75  # stopped, resumable
    lines = screen_lines(child.before)
    drawn = bars(lines)
    assert drawn, lines
    assert all(line.startswith("[" + "." * 10) for line in drawn)  # nothing accepted: an empty bar
    assert not any("200/200" in line or "ETA 0:00" in line for line in drawn)
    assert any("0/200" in line for line in drawn)
    assert any("provider unreachable: connection refused" in line and re.search(r"retry \d/4 in \d+ s", line)
               for line in drawn), drawn
    assert "not sent 200" in drawn[-1]  # the last line: nothing got through, all of it waits
    summary = "\n".join(lines)
    assert re.search(r"sent\s+0\s", summary) and re.search(r"not sent 200", summary)


def test_in_a_narrow_terminal_redraws_stay_on_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", f"http://127.0.0.1:{free_port()}", max_batch=10,
                          concurrency=2, retry={"initial": 0.2, "max": 0.3, "jitter": 0.05, "attempts": 3})
    numbers = write_numbers(tmp_path / "n.txt", 100)
    child = spawn(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi",
                   "--journal", str(tmp_path / "j.db")], tmp_path, columns=60)
    child.expect(pexpect.EOF)
    child.close()
    raw = child.before
    drawn = bars(screen_lines(raw))
    assert len(drawn) >= 3
    assert all(len(line) < 60 for line in drawn)  # cut to the width: never wrapped onto a second line
    # a note ("bulksend: reading ...") is on its own line, never glued to the bar
    assert all("bulksend:" not in line for line in drawn)


@pytest.mark.parametrize("journal", [True, False])
def test_after_ctrl_c_the_bar_and_the_summary_agree(sandbox_process, tmp_path: Path, journal: bool) -> None:
    sb = sandbox_process(["--open-plans", "--latency-ms", "150"])
    config = write_config(tmp_path / "c.toml", sb.url, max_batch=10, concurrency=2, rate=1000)
    numbers = write_numbers(tmp_path / "n.txt", 3000)
    keep = ["--journal", str(tmp_path / "j.db")] if journal else ["--no-journal"]
    child = spawn(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi", *keep],
                  tmp_path, columns=120)
    child.expect(r"\] (?:\x1b\[[0-9;]*m)*[1-9][0-9,]*/3,000")  # something was accepted
    seen = child.before + child.after
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 75
    lines = screen_lines(seen + child.before)
    last_bar = bars(lines)[-1]
    shown = int(re.search(r"\] ([0-9,]+)/", last_bar).group(1).replace(",", ""))  # type: ignore[union-attr]
    sent = int(re.search(r"^\s*sent\s+([0-9,]+)", "\n".join(lines), re.M).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < shown < 3000
    assert shown == sent
    if journal:
        accepted = int(re.search(r"accepted ([0-9,]+) of", "\n".join(lines)).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert accepted == sent
        assert "go on with: bulksend resume" in "\n".join(lines) and str(config) in "\n".join(lines)
    else:
        not_sent = int(re.search(r"not sent ([0-9,]+)", "\n".join(lines[-12:])).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert sent + not_sent == 3000


def colours(raw: str) -> list[str]:
    """Colour parameters of the SGR sequences in ``raw`` (bold and dim are not colours)."""
    params = [p for seq in re.findall(r"\x1b\[([0-9;]*)m", raw) for p in seq.split(";") if p]
    return [p for p in params if 30 <= int(p) <= 38 or 90 <= int(p) <= 97]


@pytest.mark.parametrize("no_color", [True, False])
def test_no_color_is_honoured(tmp_path: Path, no_color: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "c.toml", f"http://127.0.0.1:{free_port()}", max_batch=10,
                          retry={"initial": 0.2, "max": 0.2, "jitter": 0.0, "attempts": 2})
    numbers = write_numbers(tmp_path / "n.txt", 20)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    child = spawn(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi",
                   "--journal", str(tmp_path / "j.db")], tmp_path, columns=120, no_color=no_color)
    child.expect(pexpect.EOF)
    assert "provider unreachable" in child.before
    assert bool(colours(child.before)) is not no_color


def test_status_watch_redraws_until_the_campaign_is_done(sandbox_process, tmp_path: Path) -> None:
    import subprocess

    sb = sandbox_process(["--open-plans", "--latency-ms", "50"])
    config = write_config(tmp_path / "c.toml", sb.url, max_batch=10, concurrency=2, rate=1000)
    numbers = write_numbers(tmp_path / "n.txt", 3000)
    journal = str(tmp_path / "j.db")
    sender = subprocess.Popen([sys.executable, "-m", "bulksend", "send", "-c", str(config), "--plan", "a",
                               "-r", str(numbers), "-m", "hi", "--campaign", "w", "--journal", journal,
                               "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # until the campaign is in the journal
            if subprocess.run([sys.executable, "-m", "bulksend", "status", "w", "--journal", journal],
                              capture_output=True).returncode == 0:
                break
        child = spawn(["status", "w", "--watch", "--interval", "0.2", "-c", str(config), "--journal", journal],
                      tmp_path, columns=120)
        child.expect(r"state\s+running")  # watched while it runs
        child.expect(r"state\s+done")  # and redrawn until it is done, then it ends by itself
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert sender.wait(30) == 0
    finally:
        sender.kill()
    drawn = child.before
    assert "\x1b[" in drawn or drawn == ""  # redrawn in place (cursor moves), not printed again and again


def test_status_watch_off_a_terminal_prints_until_nothing_moves(tmp_path: Path) -> None:
    import subprocess

    config = write_config(tmp_path / "c.toml", f"http://127.0.0.1:{free_port()}", max_batch=10,
                          retry={"initial": 0.05, "max": 0.05, "jitter": 0.0, "attempts": 2})
    numbers = write_numbers(tmp_path / "n.txt", 20)
    journal = str(tmp_path / "j.db")
    base = [sys.executable, "-m", "bulksend"]
    sent = subprocess.run(base + ["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "hi",
                                  "--campaign", "p", "--journal", journal], capture_output=True, text=True,
                          timeout=60)
    assert sent.returncode == 75  # paused: the provider is down
    assert f"go on with: bulksend resume p --config {config} --journal {journal}" in sent.stdout
    done = subprocess.run(base + ["status", "--watch", "--journal", journal, "-c", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "p " in done.stdout and "paused" in done.stdout and "0/20 0%" in done.stdout
    assert done.stdout.count("CAMPAIGN") == 1  # nothing moves: one snapshot, then it ends


def test_the_demo_line_after_the_run_is_not_glued_to_the_bar(tmp_path: Path) -> None:
    child = spawn(["demo", "--recipients", "1500", "--workdir", str(tmp_path / "demo"),
                   "--journal", str(tmp_path / "j.db")], tmp_path, columns=100)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    lines = screen_lines(child.before)
    journal = [line for line in lines if "campaign demo done" in line]
    assert journal and all(line.startswith("journal ") for line in journal), lines
    drawn = bars(lines)
    sent = int(re.search(r"^\s*sent\s+([0-9,]+)", "\n".join(lines), re.M).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert drawn and f"] {sent:,}/{sent:,}" in drawn[-1]  # all accepted, and the bar says so
