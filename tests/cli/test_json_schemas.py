"""Every ``--json`` output, in every case that used to change its shape, against
the JSON Schema files shipped in ``bulksend/schemas`` (all keys required, no
others allowed)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bulksend.cli import json_out, main
from tests.helpers import write_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "numbers.csv"


def schema(name: str) -> dict[str, Any]:
    text = resources.files("bulksend").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def check(name: str, document: Any) -> None:
    jsonschema.Draft202012Validator(schema(name)).validate(document)


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str], code: int | None = 0) -> Any:
    capsys.readouterr()
    exit_code = main(argv)
    assert code is None or exit_code == code
    return json.loads(capsys.readouterr().out)


def walk_objects(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if "properties" in node:
        found.append(node)
    for value in node.values():
        if isinstance(value, dict):
            found += walk_objects(value)
        elif isinstance(value, list):
            found += [x for item in value if isinstance(item, dict) for x in walk_objects(item)]
    return found


@pytest.mark.parametrize("name", ["run", "status", "loadtest", "track"])
def test_schemas_are_valid_and_strict(name: str) -> None:
    data = schema(name)
    jsonschema.Draft202012Validator.check_schema(data)
    objects = walk_objects(data)
    assert objects
    for obj in objects:  # every record: all keys required, nothing else allowed
        assert obj["additionalProperties"] is False and sorted(obj["required"]) == sorted(obj["properties"])


def test_run_schema_keys_are_the_builders(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(schema("run")["properties"]) == list(json_out.RUN_KEYS)
    assert list(schema("run")["$defs"]["parts"]["properties"]) == list(json_out.PARTS_KEYS)


def test_status_and_track_schema_keys_are_the_builders() -> None:
    defs = schema("status")["$defs"]
    assert list(defs["campaign"]["properties"]) == list(defs["unjournaled"]["properties"]) == list(json_out.STATUS_KEYS)
    assert list(schema("track")["properties"]["polled"]["properties"]) == list(json_out.POLLED_KEYS)


def test_status_of_a_campaign_sent_without_the_journal_has_the_same_keys() -> None:
    delivery = {"campaign": "nj", "accepted": 3, "reported": 3, "delivered": 2, "failed": 1, "pending": 0,
                "by_status": {"Delivered": 2, "Failed": 1}, "latency_s": {"count": 3, "p50": 1.5}}
    doc = json_out.status_unjournaled("nj", delivery)
    check("status", doc)
    assert list(doc) == list(json_out.STATUS_KEYS) and doc["journaled"] is False and doc["counts"] is None
    assert doc["delivery"]["latency_s"]["p99"] is None  # every latency key, null where not measured


def test_send_resume_and_dry_run_print_the_same_keys(sandbox_process, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    base = ["send", "-c", str(config), "--plan", "a", "-r", str(EXAMPLES), "-m", "Hi ${name}, code ${code}",
            "--journal", str(tmp_path / "j.db"), "--json", "--no-progress"]
    outs = {
        "fresh": run_json(capsys, [*base, "--campaign", "c1"]),
        "rerun": run_json(capsys, [*base, "--campaign", "c1"]),  # finished: nothing is sent again
        "no-journal": run_json(capsys, [*base, "--campaign", "c2", "--no-journal"]),
        "dry-run": run_json(capsys, [*base, "--campaign", "c3", "--dry-run"]),
        "resume": run_json(capsys, ["resume", "c1", "-c", str(config), "--journal", str(tmp_path / "j.db"),
                                    "--json", "--no-progress"]),
    }
    for case, out in outs.items():
        check("run", out)
        assert list(out) == list(json_out.RUN_KEYS), case
    fresh, rerun, memory, dry, resumed = outs.values()
    assert (fresh["sent"], fresh["recipients"], fresh["journal"]["counts"]["accepted"]) == (20, 20, 20)
    assert rerun["sent"] is None and rerun["journal"]["state"] == "done" and rerun["exit_code"] == 0
    assert memory["journal"] is None and memory["sent"] == 20
    assert dry["dry_run"] is True and dry["sent"] is None and dry["recipients"] == 20
    assert dry["parts"]["total_parts"] == 20 and dry["recipients_read"] == 20
    assert resumed["command"] == "resume" and resumed["journal"]["counts"]["accepted"] == 20
    assert sb.stats()["plans"]["p1"]["recipients"] == 40  # the two real sends


@pytest.mark.parametrize("journal", [True, False])
def test_demo_prints_the_run_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str], journal: bool) -> None:
    extra = ["--journal", str(tmp_path / "j.db")] if journal else ["--no-journal"]
    out = run_json(capsys, ["demo", "--recipients", "300", "--no-faults", "--workdir", str(tmp_path / "d"),
                            "--no-progress", "--json", *extra])
    check("run", out)
    assert out["command"] == "demo" and out["sandbox"]["distinct_numbers"] == out["sent"] == 300
    assert (out["journal"] is not None) is journal


def test_status_one_and_all(sandbox_process, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    journal = ["--journal", str(tmp_path / "j.db")]
    for name in ("s1", "s2"):
        assert main(["send", "-c", str(config), "--plan", "a", "-r", str(EXAMPLES), "-m", "Hi",
                     "--campaign", name, "--no-progress", *journal]) == 0
    one = run_json(capsys, ["status", "s1", "--json", *journal])
    listed = run_json(capsys, ["status", "--json", *journal])
    check("status", one)
    check("status", listed)
    assert one["counts"]["accepted"] == 20 and one["delivery"] is None and one["journaled"] is True
    assert [v["campaign"] for v in listed] == ["s1", "s2"] and all(list(v) == list(one) for v in listed)


def test_loadtest_run_and_find_max(sandbox_process, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    base = ["loadtest", "-c", str(config), "--plan", "a", "--json"]
    one = run_json(capsys, [*base, "--rate", "50", "--duration", "0.4"])
    check("loadtest", one)
    assert one["mode"] == "run" and one["recipients_sent"] == 20 and 0 < one["ran"] <= one["duration"]
    found = run_json(capsys, [*base, "--find-max", "--rate", "50", "--duration", "0.3", "--max-steps", "2",
                              "--late-ms", "1000", "--pause", "0"], code=None)
    check("loadtest", found)
    assert found["mode"] == "find-max" and 1 <= len(found["steps"]) <= 2
