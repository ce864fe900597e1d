"""``bulksend listen`` options as a user types them, and the limits in a real process (its own event loop)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bulksend.cli import main
from tests.helpers import process

CONFIG = """
[plans.x]
provider = "sinch_xms"
service_plan_id = "p"
base_url = "http://127.0.0.1:1"
rate = 10
"""


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.mark.parametrize("option, value, says", [
    ("--max-body", "0", "--max-body 0: must be at least 1 byte"),
    ("--max-body", "-5", "--max-body -5: must be at least 1 byte"),
    ("--max-connections", "0", "--max-connections 0: must be at least 1"),
    ("--read-timeout", "nan", "--read-timeout nan: must be a finite number"),
    ("--read-timeout", "0", "--read-timeout 0: must be a finite number"),
    ("--idle-timeout", "inf", "--idle-timeout inf: must be a finite number"),
    ("--resolve-wait", "-1", "--resolve-wait -1: must be a finite number"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str,
                                             value: str, says: str) -> None:
    code = main(["listen", "--config", str(write_config(tmp_path)), "--port", "0", option, value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and says in err and "Traceback" not in err


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def slow_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"POST /callbacks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    sock.close()
    return b"".join(chunks)


def test_a_listen_process_caps_and_times_connections(tmp_path: Path) -> None:
    db, inbound = tmp_path / "d.db", tmp_path / "in.jsonl"
    args = ["listen", "--config", str(write_config(tmp_path)), "--port", "0", "--db", str(db),
            "--inbound", str(inbound), "--max-connections", "5", "--read-timeout", "0.5", "--idle-timeout", "5"]
    mo = json.dumps({"type": "mo_media", "id": "M1", "from": "+46700000009", "to": "12345",
                     "body": {"message": "STOP", "media": [{"url": "https://example.org/a.jpg"}]}}).encode()
    with process(*args) as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        held = [slow_socket(port) for _ in range(5)]
        time.sleep(0.1)
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        refused = read_all(extra)
        answers = [read_all(s) for s in held]  # each closed with a 408 after the read timeout
        status = post(f"{url}/callbacks/x", mo)
        with urllib.request.urlopen(f"{url}/_listen/stats", timeout=10) as resp:
            stats = json.load(resp)
        proc.terminate()
        _out, err = proc.communicate(timeout=10)
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    assert status == 200 and stats["stored_inbound"] == 1
    assert stats["connections"]["over_capacity"] == 1 and stats["connections"]["header_timeouts"] == 5
    assert db.stat().st_mode & 0o777 == 0o600 and inbound.stat().st_mode & 0o777 == 0o600
    row = json.loads(inbound.read_text())
    assert row["opt_out"] is True and row["media"] == ["https://example.org/a.jpg"]
    assert "503" in err and "408" in err and "Traceback" not in err
    assert "STOP" not in err and "46700000009" not in err
