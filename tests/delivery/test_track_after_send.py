"""Delivery after any send, as a user works: ``bulksend send`` (journaled, ``--no-journal``,
or stopped and ``resume``d) against a sandbox that plays the handsets, then
``bulksend track`` and ``status`` / ``report``. Nothing is written to the
delivery tables by hand: what ``track`` polls comes from the send itself."""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bulksend.api import build_spec
from bulksend.campaigns import JournalSettings, send_journaled
from bulksend.cli import main
from bulksend.engine.campaign import EXIT_RESUMABLE
from bulksend.providers import load_config
from tests.cli.test_json_schemas import check
from tests.helpers import stop_after, write_config, write_numbers

FINAL = {"delivered", "failed", "expired"}


def start_sandbox(sandbox_process: Any, tmp_path: Path) -> Any:
    conf = tmp_path / "sandbox.toml"
    conf.write_text("[sandbox]\nseed = 7\nopen_plans = true\n"
                    "[sandbox.delivery]\nfailed_rate = 0.2\nexpired_rate = 0.05\n", encoding="utf-8")
    return sandbox_process(["--config", str(conf)])


def cli_json(capsys: Any, *args: str) -> tuple[int, Any]:
    """Exit code and the JSON printed (None when nothing was: then stderr, as a string)."""
    capsys.readouterr()
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else captured.err


def sent_twice(sb: Any) -> int:
    stats = sb.stats()["plans"]["p1"]
    return int(stats["numbers_received_more_than_once"])


def test_send_then_track_gives_every_accepted_recipient_a_final_status(
        sandbox_process: Any, tmp_path: Path, capsys: Any) -> None:
    sb = start_sandbox(sandbox_process, tmp_path)
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 300)
    assert main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "Hi",
                 "--campaign", "dl", "--no-progress"]) == 0
    code, out = cli_json(capsys, "track", "dl", "-c", str(config))  # the plan comes from the journal
    assert code == 0
    polled, delivery = out["polled"], out["delivery"]
    assert polled["accepted"] == polled["candidates"] == 300 and polled["requests"] == 3  # one per batch
    assert polled["final"] == 300 and polled["errors"] == 0
    assert delivery["accepted"] == 300 and delivery["pending"] == 0
    assert delivery["delivered"] + delivery["failed"] == 300 and 30 < delivery["failed"] < 120

    code, again = cli_json(capsys, "track", "dl", "-c", str(config))  # nothing left to ask
    assert code == 0 and again["polled"]["candidates"] == 0 and again["polled"]["requests"] == 0

    code, status = cli_json(capsys, "status", "dl")
    assert code == 0 and status["delivery"]["delivered"] == delivery["delivered"]
    assert status["delivery"]["pending"] == 0
    assert main(["status", "dl"]) == 0
    text = capsys.readouterr().out
    assert "delivery" in text and f"{delivery['delivered']:>10,}   of 300 accepted" in text

    assert main(["report", "dl", "--out", str(tmp_path / "r.csv")]) == 0
    with (tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    column = Counter(r["delivery"] for r in rows)
    assert len(rows) == 300 and set(column) <= FINAL
    assert column["delivered"] == delivery["delivered"]
    assert column["failed"] + column["expired"] == delivery["failed"]


def test_a_send_without_the_journal_is_tracked_too(sandbox_process: Any, tmp_path: Path, capsys: Any) -> None:
    sb = start_sandbox(sandbox_process, tmp_path)
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 250)
    assert main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "Hi",
                 "--campaign", "nj", "--no-journal", "--no-progress"]) == 0
    db = Path(".bulksend/journal.db")
    assert db.exists() and db.stat().st_mode & 0o077 == 0  # it holds phone numbers
    code, out = cli_json(capsys, "track", "nj", "-c", str(config))
    assert code == 2 and "--plan" in out  # no journal: the plan must be named
    code, out = cli_json(capsys, "track", "nj", "-c", str(config), "--plan", "a")
    assert code == 0 and out["polled"]["accepted"] == out["polled"]["candidates"] == 250
    check("track", out)
    assert out["delivery"]["pending"] == 0 and out["delivery"]["delivered"] + out["delivery"]["failed"] == 250
    code, status = cli_json(capsys, "status", "nj")
    assert code == 0 and status["journaled"] is False and status["delivery"] == out["delivery"]
    check("status", status)  # the same keys as a journaled campaign's, the journal's figures null
    assert main(["status", "nj"]) == 0 and "sent without the journal" in capsys.readouterr().out


def test_a_resumed_campaign_is_tracked_whole(sandbox_process: Any, tmp_path: Path, capsys: Any) -> None:
    sb = start_sandbox(sandbox_process, tmp_path)
    config = write_config(tmp_path / "c.toml", sb.url, rate=2000, burst=100)  # slow enough to stop midway
    numbers = write_numbers(tmp_path / "n.txt", 1000)
    spec = build_spec(plan="a", recipients=str(numbers), message="Hi", campaign="rs")
    settings = JournalSettings(path=".bulksend/journal.db")
    first = asyncio.run(send_journaled(load_config(config), spec, settings, on_start=stop_after(200)))
    assert first.exit_code == EXIT_RESUMABLE and 0 < first.counts.accepted < 1000
    assert main(["resume", "rs", "-c", str(config), "--no-progress"]) == 0
    code, out = cli_json(capsys, "track", "rs", "-c", str(config))
    assert code == 0 and out["polled"]["accepted"] == out["polled"]["candidates"] == 1000
    assert out["polled"]["final"] == 1000 and out["delivery"]["pending"] == 0
    assert sent_twice(sb) == 0


def test_track_of_an_unknown_campaign_exits_2_with_one_line(tmp_path: Path, capsys: Any) -> None:
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    assert main(["track", "nosuch", "-c", str(config), "--plan", "a"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "no campaign named 'nosuch'" in lines[0] and captured.out == ""
    assert not Path(".bulksend").exists()  # asking about a name creates no file


def test_listen_ties_callbacks_of_a_send_without_the_journal(sandbox_process: Any, tmp_path: Path,
                                                              capsys: Any) -> None:
    import time
    import urllib.request

    from tests.helpers import process

    sb = start_sandbox(sandbox_process, tmp_path)
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 200)
    with process("listen", "--config", str(config), "--port", "0") as (_proc, listen_url):
        assert main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "Hi", "--campaign", "cb",
                     "--no-journal", "--delivery-report", "per_recipient", "--callback-url",
                     f"{listen_url}/callbacks/a", "--no-progress"]) == 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with urllib.request.urlopen(listen_url + "/_listen/stats", timeout=5) as resp:
                stats = json.load(resp)
            if stats["stored_reports"] >= 200:
                break
            time.sleep(0.1)
    assert stats["stored_reports"] == 200 and stats["unknown"] == 0
    code, status = cli_json(capsys, "status", "cb")
    assert code == 0 and status["delivery"]["pending"] == 0 and status["delivery"]["accepted"] == 200
    assert status["delivery"]["latency_s"]["count"] == status["delivery"]["delivered"]  # callbacks carry times
