"""The bad-input corpus: everything a user can type wrong is refused before anything is sent.

Each case runs the real command line (``python -m bulksend``, argv as bytes
where the case needs bytes that are not UTF-8) against one real sandbox
process for the whole module. A case passes when the command exits 2, prints
no traceback, says why in one ``bulksend:`` line (argparse's own usage
errors excepted), and no request reached the sandbox.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import pytest

from tests.helpers import SandboxProcess, plan_table, write_numbers


def iso_in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


class Case(NamedTuple):
    args: tuple[str | bytes, ...]
    #: what the one line must say
    says: str
    #: the config's plan ``a`` with these keys changed (TOML text per key)
    plan: Mapping[str, str] = MappingProxyType({})
    #: argparse's usage error (several lines) rather than bulksend's one line
    usage: bool = False


SEND = ("send", "--plan", "a", "-r", "n.txt")
HI = ("-m", "hi")

CASES: dict[str, Case] = {
    # the message
    "empty-body": Case((*SEND, "-m", ""), "the message is empty"),
    "blank-body": Case((*SEND, "-m", "   "), "the message is empty"),
    "empty-body-no-journal": Case((*SEND, "-m", "", "--no-journal"), "the message is empty"),
    "placeholder-too-long": Case((*SEND, "-m", "Hi ${this_is_way_too_long_placeholder}"), "not a placeholder"),
    "placeholder-space": Case((*SEND, "-m", "Hi ${ name}"), "not a placeholder"),
    "placeholder-unclosed": Case((*SEND, "-m", "Hi ${name"), "not a placeholder"),
    "placeholder-empty": Case((*SEND, "-m", "Hi ${}"), "not a placeholder"),
    "control-bell": Case((*SEND, "-m", "Hi\x07there"), "control character"),
    "control-escape": Case((*SEND, "-m", "Hi\x1b[31m"), "control character"),
    "control-tab": Case((*SEND, "-m", "Hi\tthere"), "control character"),
    "nul-in-message-file": Case((*SEND, "--message-file", "nul.txt"), "control character"),
    "invalid-utf8-message": Case((*SEND, b"-m", b"caf\xe9 \xff"), "not valid UTF-8"),
    "invalid-utf8-message-no-journal": Case((*SEND, b"-m", b"\xc3\x28", "--no-journal"), "not valid UTF-8"),
    "invalid-utf8-message-file": Case((*SEND, "--message-file", "latin1.txt"), "not valid UTF-8"),
    "invalid-utf8-campaign-name": Case((*SEND, *HI, b"--campaign", b"caf\xe9"), "--campaign 'caf\\udce9': not valid UTF-8"),
    "invalid-utf8-callback-url": Case((*SEND, *HI, b"--callback-url", b"https://ex\xe9.com/"), "not valid UTF-8"),
    "invalid-utf8-column": Case((*SEND, *HI, b"--column", b"\xe9"), "--column"),
    "invalid-utf8-results-path": Case((*SEND, *HI, b"--results", b"r\xe9.csv"), "--results"),
    "invalid-utf8-param-value": Case((*SEND, "-m", "hi ${x}", b"--param", b"x=caf\xe9"), "--param x is not valid UTF-8"),
    # options
    "max-batch-zero": Case((*SEND, *HI, "--max-batch", "0"), "at least 1"),
    "max-batch-negative": Case((*SEND, *HI, "--max-batch", "-5"), "at least 1"),
    "max-batch-above-plan": Case((*SEND, *HI, "--max-batch", "5000"), "above plan a's max_batch (100)"),
    "max-batch-above-plan-no-journal": Case((*SEND, *HI, "--max-batch", "101", "--no-journal"),
                                            "above plan a's max_batch"),
    "max-batch-above-provider": Case((*SEND, *HI, "--max-batch", "1500"), "sinch_xms takes at most 1000",
                                     plan={"max_batch": "2000", "burst": "2000"}),
    "send-at-past": Case((*SEND, *HI, "--send-at", "2020-01-01T09:00:00"), "is in the past"),
    "send-at-past-dry-run": Case((*SEND, *HI, "--send-at", iso_in(-3600), "--dry-run"), "is in the past"),
    "expire-at-out-of-range": Case((*SEND, *HI, "--expire-at", "9999-12-31T23:59:59-01:00"), "out of range"),
    "send-at-not-a-time": Case((*SEND, *HI, "--send-at", "tomorrow"), "not an ISO-8601 time"),
    "expire-before-send": Case((*SEND, *HI, "--send-at", iso_in(7200), "--expire-at", iso_in(3600)),
                               "is not after --send-at"),
    "expire-in-the-past": Case((*SEND, *HI, "--expire-at", iso_in(-3600)), "is not after now"),
    "expire-beyond-3-days": Case((*SEND, *HI, "--send-at", iso_in(3600), "--expire-at", iso_in(3600 + 4 * 86400)),
                                 "at most 3 days"),
    "expire-on-clickatell": Case(("send", "--plan", "b", "-r", "n.txt", *HI, "--expire-at", iso_in(3600)),
                                 "clickatell does not take an expiry"),
    "from-31-characters": Case((*SEND, *HI, "--from", "A" * 31), "at most 11"),
    "from-16-digits": Case((*SEND, *HI, "--from", "+1234567890123456"), "16 digits"),
    "from-punctuation": Case((*SEND, *HI, "--from", "Shop!"), "neither a number nor alphanumeric"),
    "from-31-on-clickatell": Case(("send", "--plan", "b", "-r", "n.txt", *HI, "--from", "B" * 31), "at most 11"),
    "from-in-plan": Case((*SEND, *HI), "--from 'ThisSenderIsTooLong'", plan={"from": '"ThisSenderIsTooLong"'}),
    "callback-ftp": Case((*SEND, *HI, "--callback-url", "ftp://x"), "not an http(s) URL"),
    "callback-no-host": Case((*SEND, *HI, "--callback-url", "https://"), "not an http(s) URL"),
    "param-key-outside-grammar": Case((*SEND, *HI, "--param", "first name=Ann"), "a key is 1 to 16"),
    "param-key-too-long": Case((*SEND, *HI, "--param", "k" * 17 + "=v"), "a key is 1 to 16"),
    "param-no-key": Case((*SEND, *HI, "--param", "=v"), "expected KEY=VALUE"),
    "stop-timeout-negative": Case((*SEND, *HI, "--stop-timeout", "-1"), "at least 0"),
    "stop-timeout-nan": Case((*SEND, *HI, "--stop-timeout", "nan"), "finite number of seconds"),
    # config values
    "rate-nan": Case((*SEND, *HI), "plans.a.rate must be a finite number", plan={"rate": "nan"}),
    "rate-inf": Case((*SEND, *HI), "plans.a.rate must be a finite number", plan={"rate": "inf"}),
    "timeout-nan": Case((*SEND, *HI), "plans.a.timeout must be a finite number", plan={"timeout": "nan"}),
    "retry-deadline-inf": Case((*SEND, *HI), "must be a finite number", plan={"retry_deadline": "inf"}),
    "max-batch-zero-in-plan": Case((*SEND, *HI), "plans.a.max_batch must be at least 1", plan={"max_batch": "0"}),
    "journal-stop-timeout-nan": Case((*SEND, *HI), "journal.stop_timeout must be a finite number of seconds",
                                     plan={"journal_stop_timeout": "nan"}),
    # other commands
    "loadtest-rate-nan": Case(("loadtest", "--plan", "a", "--rate", "nan", "--duration", "1"),
                              "argument --rate", usage=True),
    "loadtest-rate-inf": Case(("loadtest", "--plan", "a", "--rate", "inf", "--duration", "1"),
                              "argument --rate", usage=True),
}


def config_text(url: str, plan: Mapping[str, str]) -> str:
    table = plan_table(url)
    retry = table.pop("retry")
    lines = ["[plans.a]"] + [f"{k} = {plan.get(k, _toml(v))}" for k, v in table.items()]
    lines += [f"{k} = {v}" for k, v in plan.items() if k not in table and not k.startswith(("retry_", "journal_"))]
    lines += ["[plans.a.retry]"] + [f"{k} = {_toml(v)}" for k, v in retry.items()]
    lines += [f"{k.removeprefix('retry_')} = {v}" for k, v in plan.items() if k.startswith("retry_")]
    lines += ["[journal]"] + [f"{k.removeprefix('journal_')} = {v}" for k, v in plan.items() if k.startswith("journal_")]
    lines += ["[plans.b]", 'provider = "clickatell"', f'base_url = "{url}"', "rate = 1000"]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_refused_in_one_line_with_exit_2_and_nothing_sent(
        case: Case, sandbox_proc: SandboxProcess, tmp_path: Path) -> None:
    write_numbers(tmp_path / "n.txt", 50)
    (tmp_path / "nul.txt").write_bytes(b"Hello\x00there\n")
    (tmp_path / "latin1.txt").write_bytes("Café olé".encode("latin-1"))
    (tmp_path / "c.toml").write_text(config_text(sandbox_proc.url, case.plan), encoding="utf-8")
    command, *rest = case.args
    argv: list[str | bytes] = [sys.executable, "-m", "bulksend", command, "-c", str(tmp_path / "c.toml"), *rest]
    if command == "send":
        argv += ["--journal", str(tmp_path / "j.db"), "--no-progress"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=60, check=False)
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err + done.stdout.decode("utf-8", "replace")
    assert done.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    if case.usage:
        assert case.says in lines[-1]
    else:
        assert len(lines) == 1 and lines[0].startswith("bulksend: "), err
        assert case.says in lines[0], err
    assert sandbox_proc.stats()["plans"] == {}, "a request reached the sandbox"
    journal = tmp_path / "j.db"
    if journal.exists():  # refused before a campaign was made: nothing to resume or clean up
        with sqlite3.connect(journal) as conn:
            assert conn.execute("SELECT count(*) FROM campaigns").fetchone() == (0,)
