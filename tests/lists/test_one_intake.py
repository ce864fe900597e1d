"""One intake: the dry run, the run without a journal and the journaled run
screen the same messy list the same way (counts and rejects file alike)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bulksend.cli import main
from bulksend.core.estimate import BodyMeter
from bulksend.core.seen import SeenNumbers, as_keys
from bulksend.errors import InputError
from bulksend.lists import ListCounts, RecipientSource, RejectsFile, Screener
from tests.helpers import write_config

# Lines 2..: good rows, bad numbers, repeats, opted-out numbers, an empty template
# value (line 7, whose number comes back with a name on line 12 and is sent then).
MESSY = """phone,name
46701000001,Ana
not-a-number,X
46701000002,Bo
46701000001,Ana again
46709999999,Opted
46701000003,
46701000004,Cy
12,short
46701000002,Bo again
46709999998,Opted too
46701000003,Di
46701000005,Ed
46709999999,Opted again
"""
EXCLUDE = "46709999999\n46709999998\n"


def messy(tmp_path: Path) -> tuple[Path, Path]:
    listing, exclude = tmp_path / "messy.csv", tmp_path / "optout.txt"
    listing.write_text(MESSY, encoding="utf-8")
    exclude.write_text(EXCLUDE, encoding="utf-8")
    return listing, exclude


def counts_of(out: dict[str, Any]) -> tuple[int, int, int, int]:
    read = out.get("read", out.get("recipients_read"))
    return read, out["invalid"], out["duplicates"], out["excluded"]


@pytest.mark.parametrize(("body", "expected", "sent"), [
    ("Hi ${name}", (13, 3, 2, 3), 5),  # the empty value is rejected: invalid
    ("Hello", (13, 2, 3, 3), 5),       # a static body needs no value: line 12 is a repeat
])
def test_dry_run_no_journal_and_journal_screen_a_list_alike(
        sandbox_process, tmp_path: Path, capsys, body: str, expected: tuple[int, ...], sent: int) -> None:
    sb = sandbox_process()
    listing, exclude = messy(tmp_path)
    config = write_config(tmp_path / "c.toml", sb.url, max_batch=2)
    base = ["send", "-c", str(config), "--plan", "a", "-r", str(listing), "-m", body,
            "--exclude", str(exclude), "--json", "--no-progress"]
    outs: dict[str, dict[str, Any]] = {}
    for mode, extra in (("dry", ["--dry-run"]), ("memory", ["--no-journal"]),
                        ("journal", ["--journal", str(tmp_path / "j.db")])):
        code = main([*base, "--campaign", mode, "--rejects", str(tmp_path / f"{mode}.rejects.csv"), *extra])
        outs[mode] = json.loads(capsys.readouterr().out)
        assert code == 0, outs[mode]
    assert {mode: counts_of(out) for mode, out in outs.items()} == dict.fromkeys(outs, expected)
    assert outs["dry"]["recipients"] == outs["dry"]["parts"]["total_parts"] == sent
    assert outs["memory"]["sent"] == outs["journal"]["sent"] == sent
    assert outs["memory"]["parts"]["total_parts"] == outs["journal"]["parts"]["total_parts"] == sent
    rejects = {mode: (tmp_path / f"{mode}.rejects.csv").read_bytes() for mode in outs}
    assert rejects["dry"] == rejects["memory"] == rejects["journal"]
    lines = rejects["dry"].decode().splitlines()
    assert lines[0] == "source,line,value,reason" and [row.split(",")[1] for row in lines[1:]] == \
        (["3", "7", "9"] if "${" in body else ["3", "9"])
    assert os.stat(tmp_path / "memory.rejects.csv").st_mode & 0o777 == 0o600
    assert sb.stats()["plans"]["p1"]["recipients"] == 2 * sent  # the two real sends; the dry run sent nothing


def test_dry_run_text_names_every_count(tmp_path: Path, capsys) -> None:
    listing, exclude = messy(tmp_path)
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")  # nothing listens: nothing is sent
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(listing), "-m", "Hi ${name}",
                 "--exclude", str(exclude), "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0
    assert "recipients                  5   (read 13: invalid 3, duplicates 2, excluded 3)" in text


@pytest.mark.parametrize("block", [1, 2, 5, 512])
def test_the_screener_counts_alike_whatever_the_block_size(tmp_path: Path, block: int) -> None:
    listing, exclude = messy(tmp_path)
    path = tmp_path / f"r{block}.csv"
    rejects = RejectsFile(str(path))
    meter = BodyMeter()
    screener = Screener(RecipientSource(str(listing)), "Hi ${name}", {}, meter,
                        exclude=[RecipientSource(str(exclude))])
    counts = screener.run(rejects, size=block)
    rejects.close()
    assert counts == ListCounts(read=13, invalid=3, excluded=3, duplicates=2) and counts.kept == 5
    assert meter.tally.recipients == 5  # only what would be sent is metered
    assert path.read_text().splitlines()[1:] == [
        f"{listing},3,not-a-number,not a phone number",
        f"{listing},7,46701000003,no value for ${{name}}",
        f"{listing},9,12,must have 7 to 15 digits",
    ]


def test_the_screener_skips_lines_staged_before_and_refuses_bodies_over_the_limit(tmp_path: Path) -> None:
    listing, exclude = messy(tmp_path)
    had = SeenNumbers([as_keys(["46701000002"])])  # what a journal holds from the first 7 lines
    resumed = Screener(RecipientSource(str(listing)), "Hello", {}, BodyMeter(), skip_to=7, seen=had,
                       exclude=[RecipientSource(str(exclude))])
    assert resumed.run() == ListCounts(read=7, invalid=1, excluded=2, duplicates=1)
    long = Screener(RecipientSource(str(listing)), "${name}" + "x" * 200, {}, BodyMeter(max_parts=1),
                    refuse=True)
    with pytest.raises(InputError, match=r"messy.csv:2: 46701000001: the message is 2 parts"):
        long.run()
