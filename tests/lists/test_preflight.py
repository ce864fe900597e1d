"""Message checks before sending, the dry-run estimate, and parts in the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulksend.cli import main
from bulksend.core.estimate import BodyMeter, body_problem
from bulksend.core.segments import count_segments
from tests.helpers import write_config, write_numbers


@pytest.mark.parametrize(("body", "max_parts", "max_chars", "fragment"), [
    ("a" * 160, 1, None, ""),
    ("a" * 161, 1, None, "2 parts (GSM-7, 161 septets); the limit is 1"),
    ("€" * 80, 1, None, ""),
    ("€" * 81, 1, None, "2 parts"),
    ("中" * 71, 1, None, "2 parts (UCS-2, 71"),
    ("a" * 2001, None, 2000, "2,001 characters; the provider allows 2,000"),
    ("a" * 153 * 256, None, None, "the limit is 255"),
])
def test_body_problem(body: str, max_parts: int | None, max_chars: int | None, fragment: str) -> None:
    problem = body_problem(count_segments(body), body, max_parts, max_chars)
    assert (fragment in problem) if fragment else problem == ""


def test_meter_counts_each_body_once_and_tallies() -> None:
    meter = BodyMeter(max_parts=3)
    assert meter.add("Hi Ana", 10) == ""
    assert meter.add("Привет " * 20, 2) == ""  # 140 UCS-2 units: 3 parts
    assert meter.add("x" * 1000) != ""          # 7 parts: refused, not tallied
    d = meter.tally.to_dict(rate=4)
    assert d["recipients"] == 12 and d["total_parts"] == 16
    assert d["parts_per_recipient"]["min"] == 1 and d["parts_per_recipient"]["max"] == 3
    assert d["encoding"] == "mixed" and d["encodings"] == {"GSM-7": 10, "UCS-2": 2}
    assert d["estimated_duration_s"] == 3.0


def test_dry_run_reports_without_sending(tmp_path: Path, capsys) -> None:
    listing = tmp_path / "n.csv"
    listing.write_text("phone,name\n46701000001,Ana\n46701000002,Сергей\nbad,x\n", encoding="utf-8")
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9", rate=2)  # nothing listens there
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(listing), "-m", "Hi ${name}",
                 "--dry-run", "--json"])
    est = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (est["recipients"], est["invalid"], est["parts"]["total_parts"], est["parts"]["encoding"]) == (2, 1, 2, "mixed")
    assert est["parts"]["estimated_duration_s"] == 1.0 and est["dry_run"] is True and est["sent"] is None
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(listing), "-m", "Hi ${name}", "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0 and "nothing was sent" in text and "total parts" in text


def test_templated_body_over_max_parts_refused_before_sending(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    listing = tmp_path / "n.csv"
    listing.write_text("phone,note\n46701000001,short\n46701000002," + "long " * 80 + "\n", encoding="utf-8")
    config = write_config(tmp_path / "c.toml", sb.url, max_parts=2)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(listing), "-m", "Note: ${note}", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{listing}:3: 46701000002: the message is 3 parts" in err and err.count("\n") == 1
    assert sb.stats()["plans"] == {}


def test_static_body_over_provider_limit_refused(tmp_path: Path, capsys) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 3)
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "x" * 2001, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "2,001 characters; the provider allows 2,000; nothing was sent" in err


def test_summary_reports_parts(sandbox_process, tmp_path: Path, capsys) -> None:
    sb = sandbox_process()
    numbers = write_numbers(tmp_path / "n.txt", 30)
    config = write_config(tmp_path / "c.toml", sb.url)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "é" * 200,
                 "--json", "--no-progress"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["parts"]["encoding"] == "GSM-7" and summary["parts"]["total_parts"] == 60


def test_smart_encoding_on_send_makes_the_body_gsm(tmp_path: Path, capsys) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 2)
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(numbers), "-m", "Don\u2019t miss it \u2014 50% off",
                 "--smart-encoding", "--dry-run", "--json"])
    out = capsys.readouterr()
    assert code == 0
    assert json.loads(out.out)["parts"]["encoding"] == "GSM-7"
    assert "smart encoding:" in out.err and "UCS-2 1 -> GSM-7 1" in out.err


def test_parts_are_counted_for_first_occurrences_only_even_when_bodies_differ(tmp_path: Path) -> None:
    # Repeats are dropped before they are metered, so the tally is exact (it used to be
    # a tally with the duplicates' parts in it, discounted after the fact when it could be).
    from bulksend.lists import RecipientSource, Screener

    listing = tmp_path / "n.csv"
    listing.write_text("phone,note\n46701000001,short\n46701000002," + "long " * 40 + "\n"
                       "46701000002,short\n46701000001," + "long " * 40 + "\n", encoding="utf-8")
    meter = BodyMeter()
    counts = Screener(RecipientSource(str(listing)), "${note}", {}, meter).run()
    d = meter.tally.to_dict()
    assert counts.duplicates == 2 and (d["recipients"], d["total_parts"]) == (2, 3)
    assert "duplicates_included" not in d
