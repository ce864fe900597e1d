"""``bulksend listen`` and ``bulksend track`` as a user runs them (real processes on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from bulksend.cli import main
from bulksend.delivery import SqliteDeliveryStore
from bulksend.providers.signing import iso_timestamp, sign_classic
from tests.cli.test_json_schemas import check
from tests.helpers import process


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def write_config(path: Path, sandbox_url: str = "http://127.0.0.1:1") -> Path:
    path.write_text(f"""
[plans.cl]
provider = "sinch_classic"
base_url = "{sandbox_url}/classic/cl"
key_env = "BULKSEND_TEST_KEY"
secret_env = "BULKSEND_TEST_SECRET"
rate = 200
burst = 20
max_batch = 1
concurrency = 4
""", encoding="utf-8")
    return path


def test_listen_takes_signed_classic_inbound_and_refuses_the_rest(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml")
    db = tmp_path / "d.db"
    with process("listen", "--config", str(config), "--port", "0", "--db", str(db)) as (_proc, url):
        body = json.dumps({"event": "incomingSms", "to": {"type": "number", "endpoint": "+46700000000"},
                           "from": {"type": "number", "endpoint": "+46700000001"}, "message": "STOP",
                           "timestamp": "2014-12-01T12:00:00Z", "version": 1}).encode()
        # Unset variables on a loopback plan: key and secret are "sandbox".
        good = sign_classic("POST", "/callbacks/cl", body, "application/json", "sandbox", "sandbox",
                            iso_timestamp(time.time()))
        assert post(f"{url}/callbacks/cl", body, good) == 200
        assert post(f"{url}/callbacks/cl", body, {"Content-Type": "application/json"}) == 401
        assert post(f"{url}/callbacks/cl", b"{", good) == 401  # the signature covers the body
        with urllib.request.urlopen(f"{url}/_listen/stats", timeout=10) as resp:
            stats = json.load(resp)

    async def inbound() -> list[str]:
        async with SqliteDeliveryStore(db) as store:
            return [m.keyword for m in await store.inbound()]

    assert asyncio.run(inbound()) == ["STOP"]
    assert stats["stored_inbound"] == 1 and stats["opt_outs"] == 1 and stats["unauthorized"] == 2


def test_track_polls_classic_and_prints_the_summary(tmp_path: Path, capsys) -> None:
    # Nothing is filled in by hand: the journaled send is what track reads.
    with process("sandbox", "--open-plans", "--port", "0") as (_proc, url):
        config = write_config(tmp_path / "c.toml", url)
        assert main(["send", "--config", str(config), "--plan", "cl", "-r", str(_numbers(tmp_path)),
                     "-m", "hi", "--campaign", "t1", "--results", str(tmp_path / "r.csv"), "--no-progress"]) == 0
        capsys.readouterr()
        assert main(["track", "t1", "--config", str(config), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert main(["track", "t1", "--config", str(config)]) == 0
        text = capsys.readouterr().out
    check("track", out)  # bulksend/schemas/track.schema.json
    assert out["polled"]["candidates"] == 5 and out["polled"]["requests"] == 5  # one a message
    assert out["delivery"]["delivered"] == 5 and out["delivery"]["pending"] == 0
    assert "0 of 5 accepted without a final status" in text and "delivered           5   of 5 accepted" in text


def _numbers(tmp_path: Path) -> Path:
    path = tmp_path / "n.txt"
    path.write_text("".join(f"4670000000{i}\n" for i in range(5)), encoding="utf-8")
    return path
