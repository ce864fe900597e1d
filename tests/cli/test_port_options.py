"""Every port option takes 0..65535 and refuses anything else as a usage error
(exit 2, no traceback): `loadtest --metrics-port 99999` used to end in an
OverflowError, `listen --port 99999` to listen on 99999 - 65536."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bulksend.cli.common import port

COMMANDS = [
    ("listen", "--port", "99999"),
    ("sandbox", "--port", "70000"),
    ("send", "--plan", "a", "--recipients", "x.txt", "--message", "hi", "--metrics-port", "99999"),
    ("loadtest", "--plan", "a", "--rate", "10", "--duration", "1", "--metrics-port", "99999"),
    ("worker", "--broker", "redis://127.0.0.1:1/0", "--metrics-port", "-1"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_port_out_of_range_is_a_usage_error(args: tuple[str, ...], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[plans.a]\nprovider = "sinch_xms"\nservice_plan_id = "p"\nbase_url = "http://127.0.0.1:9"\n',
                      encoding="utf-8")
    command, *rest = args
    done = subprocess.run([sys.executable, "-m", "bulksend", command, "--config", str(config), *rest],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "is not a port (0 to 65535)" in done.stderr


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("8080", 8080), ("65535", 65535)])
def test_ports_in_range_are_taken(text: str, value: int) -> None:
    assert port(text) == value


@pytest.mark.parametrize("text", ["65536", "-1", "http", "1e3", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        port(text)
