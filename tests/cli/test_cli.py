"""The command line, end to end against a sandbox in a child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulksend.cli import main
from tests.helpers import write_config, write_numbers


def csv_list(path: Path) -> Path:
    path.write_text("phone,name,code\n+46 70 100 00 01,Ana,11\n46701000002,Bo,22\n"
                    "46701000002,Bo,22\n070123,Cy,33\n46701000004,,44\n", encoding="utf-8")
    return path


def test_send_json_summary_results_and_rejects(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(csv_list(tmp_path / "n.csv")),
                 "-m", "Hi ${name}, code ${code}", "--campaign", "t1", "--results", str(tmp_path / "out.csv"),
                 "--json", "--no-progress"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("recipients_read", "invalid", "duplicates", "sent", "failed", "batches", "retries",
                "elapsed_s", "rate"):
        assert key in summary
    assert (summary["recipients_read"], summary["sent"], summary["invalid"], summary["duplicates"]) == (5, 2, 2, 1)
    assert (tmp_path / "out.csv").read_text().startswith("msisdn,status,batch_id,code,attempts\n46701000001,accepted")
    rejects = (tmp_path / "out.rejects.csv").read_text()
    assert "070123" in rejects and "no value for ${name}" in rejects
    assert sb.stats()["plans"]["p1"]["recipients"] == 2


def test_missing_placeholder_column_refused_before_sending(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(csv_list(tmp_path / "n.csv")),
                 "-m", "Hi ${nickname}", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "${nickname}" in err and "Traceback" not in err
    assert sb.stats()["plans"] == {}


@pytest.mark.parametrize(("config_text", "message"), [
    ("[plans.a]\nprovider = 'sinch_xms'\nrat = 1\n", "unknown key plans.a.rat"),
    ("[plans.a\n", "invalid TOML"),
])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, capsys, config_text: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(config_text, encoding="utf-8")
    numbers = write_numbers(tmp_path / "n.txt", 3)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "x", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and str(config) in err


def test_missing_recipient_file_exit_2(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(tmp_path / "nope.csv"), "-m", "x",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "nope.csv" in err and "Traceback" not in err


def test_bad_token_exit_3_without_leaking_it(sandbox_process, tmp_path: Path, capsys, monkeypatch) -> None:
    config_path = tmp_path / "c.toml"
    config_path.write_text("[sandbox.plans.p1]\ntoken_env = 'SANDBOX_TOKEN'\n", encoding="utf-8")
    monkeypatch.setenv("SANDBOX_TOKEN", "the-right-one")
    sb = sandbox_process(["--config", str(config_path)])
    config = write_config(tmp_path / "client.toml", sb.url, token_env="CLIENT_TOKEN")
    monkeypatch.setenv("CLIENT_TOKEN", "hunter2-wrong")
    numbers = write_numbers(tmp_path / "n.txt", 50)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "x", "--no-progress"])
    out = capsys.readouterr()
    assert code == 3
    assert "refused" in out.out and "hunter2" not in out.out + out.err


def test_demo_runs_small(tmp_path: Path, capsys) -> None:
    code = main(["demo", "--recipients", "600", "--workdir", str(tmp_path / "demo"), "--no-progress", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["sandbox"]["numbers_received_more_than_once"] == 0
    assert summary["sent"] == summary["sandbox"]["distinct_numbers"]
    assert (tmp_path / "demo" / "results.csv").exists()
