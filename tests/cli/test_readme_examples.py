"""The README's examples, as a reader would type them.

Every ``bulksend ...`` line in a README code block must parse (its command and
options exist); the "Sending a campaign" example is run for real, in a copy
of the checkout's ``configs/`` and ``examples/``, against its own sandbox.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bulksend.cli import build_parser
from tests.helpers import process

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(text: str) -> list[str]:
    blocks, current, inside = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append("\n".join(current))
            current, inside = [], not inside
        elif inside:
            current.append(line)
    return blocks


def commands(text: str) -> list[list[str]]:
    """``bulksend ...`` command lines of the code blocks (continuations joined, comments and
    ``[optional]`` brackets dropped); lines with ``...`` are sketches, not commands."""
    found = []
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("bulksend ") or "..." in line:
                continue
            argv = shlex.split(re.sub(r"\[([^\]]*)\]", r"\1", line), comments=True)
            cut = next((i for i, word in enumerate(argv) if word in SHELL), len(argv))
            found.append(argv[1:cut])
    return found


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.index("\n## ", start + 1)
    return README[start:end]


SHELL = {">", ">>", "|", "&&", ";", "<", "2>"}
ALL = commands(README)


def test_the_readme_has_the_examples_this_test_reads() -> None:
    names = {argv[0] for argv in ALL}
    assert {"send", "sandbox", "resume", "status", "report", "cancel", "loadtest", "completion"} <= names
    assert len(commands(section("Sending a campaign"))) >= 2


@pytest.mark.parametrize("argv", ALL, ids=[" ".join(a)[:60] for a in ALL])
def test_every_readme_command_line_parses(argv: list[str]) -> None:
    if argv in (["--version"], ["--help"]):
        return  # these print and exit 0; test_conventions runs them
    args = build_parser(full=True).parse_args(argv)  # SystemExit on an unknown option or choice
    assert args.command == argv[0] and callable(args.func)


def test_files_the_readme_names_exist_and_ship() -> None:
    for path in ("examples/numbers.csv", "configs/sandbox.toml", "configs/sinch.example.toml"):
        assert (ROOT / path).is_file(), path
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert "examples" in manifest and "configs" in manifest and "schemas" in manifest
    rows = (ROOT / "examples" / "numbers.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "phone,name,code" and len(rows) == 21


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sending_a_campaign_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox, send = commands(section("Sending a campaign"))[:2]
    assert sandbox[0] == "sandbox" and send[0] == "send"
    port = free_port()  # the README's 8080 may be taken here: the same config, another port
    (tmp_path / "configs").mkdir()
    config = (ROOT / "configs" / "sandbox.toml").read_text(encoding="utf-8").replace("8080", str(port))
    (tmp_path / "configs" / "sandbox.toml").write_text(config, encoding="utf-8")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "numbers.csv").write_bytes((ROOT / "examples" / "numbers.csv").read_bytes())
    sandbox = [str(port) if a == "8080" else a for a in sandbox]
    monkeypatch.chdir(tmp_path)  # the README's paths are relative to the checkout
    monkeypatch.delenv("BULKSEND_JOURNAL", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    with process(*sandbox):
        done = subprocess.run([sys.executable, "-m", "bulksend", *send], capture_output=True, text=True,
                              timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "campaign spring-sale on plan demo" in done.stdout and "accepted 20 of 20" in done.stdout
    results = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert results[0] == "msisdn,status,batch_id,code,attempts" and len(results) == 21
    assert all(",accepted," in row for row in results[1:])
