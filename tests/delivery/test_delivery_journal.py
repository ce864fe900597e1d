"""The whole loop as a user runs it: send (journaled by default) -> sandbox
callbacks -> ``bulksend listen`` ties each report to its journal recipient."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

from bulksend.cli import main
from bulksend.delivery.api import summary
from tests.helpers import write_config, write_numbers
from tests.helpers import process


def listen_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/_listen/stats", timeout=5) as resp:
        data: dict[str, int] = json.load(resp)
        return data


def test_callbacks_are_tied_to_journaled_recipients(sandbox_process, tmp_path: Path, capsys) -> None:
    sandbox_conf = tmp_path / "sandbox.toml"
    sandbox_conf.write_text("[sandbox]\nseed = 5\n[sandbox.plans.p1]\nrate = 5000\nburst = 5000\n"
                            "[sandbox.delivery]\nfailed_rate = 0.25\n", encoding="utf-8")
    sb = sandbox_process(["--config", str(sandbox_conf)])
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = write_numbers(tmp_path / "n.txt", 300)
    with process("listen", "--config", str(config), "--port", "0") as (_proc, listen_url):
        code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "Hello",
                     "--campaign", "dl", "--delivery-report", "per_recipient",
                     "--callback-url", f"{listen_url}/callbacks/a", "--no-progress", "--json"])
        assert code == 0, capsys.readouterr()
        deadline = time.monotonic() + 20
        while listen_stats(listen_url)["stored_reports"] < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = listen_stats(listen_url)
    assert stats["stored_reports"] == 300 and stats["unknown"] == 0
    result = asyncio.run(summary(".bulksend/journal.db", "dl", accepted=300))
    assert result["delivered"] + result["failed"] == 300 and result["pending"] == 0
    assert 30 < result["failed"] < 120  # a quarter of 300, give or take the dice
    assert result["latency_s"]["count"] == result["delivered"]  # acceptance times come from the journal
    capsys.readouterr()
    code = main(["status", "dl", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and status["delivery"]["delivered"] + status["delivery"]["failed"] == 300
    assert main(["status", "dl"]) == 0
    assert "delivery" in capsys.readouterr().out
