"""``loadtest`` (and ``listen``) refuse every bad number before anything is sent:
one ``bulksend:`` line, exit 2, no traceback, no request at the sandbox.

The send-side corpus is ``tests/cli/test_bad_input_corpus.py``; these are the
load tester's own options (``--duration nan`` used to end in a traceback,
``--timeout nan`` or ``--late-ms nan`` ran a test with meaningless bounds)
and ``listen``'s limits.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SandboxProcess

LOADTEST = ("loadtest", "--plan", "demo")
RATE = ("--rate", "100", "--duration", "1")

CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "duration-nan": ((*LOADTEST, "--rate", "100", "--duration", "nan"), "--duration nan: must be a finite"),
    "duration-inf": ((*LOADTEST, "--rate", "100", "--duration", "inf"), "--duration inf: must be a finite"),
    "duration-zero": ((*LOADTEST, "--rate", "100", "--duration", "0"), "--duration 0: must be a finite"),
    "ramp-nan": ((*LOADTEST, "--ramp", "nan:5", "--duration", "1"), "--ramp 'nan:5': rates must be finite"),
    "ramp-inf": ((*LOADTEST, "--ramp", "1:inf", "--duration", "1"), "--ramp '1:inf': rates must be finite"),
    "late-ms-nan": ((*LOADTEST, *RATE, "--late-ms", "nan"), "--late-ms nan: must be a finite"),
    "timeout-nan": ((*LOADTEST, *RATE, "--timeout", "nan"), "--timeout nan: must be a finite"),
    "timeout-negative": ((*LOADTEST, *RATE, "--timeout", "-1"), "--timeout -1: must be a finite"),
    "drain-timeout-nan": ((*LOADTEST, *RATE, "--drain-timeout", "nan"), "--drain-timeout nan: must be a finite"),
    "max-p99-nan": ((*LOADTEST, *RATE, "--max-p99-ms", "nan"), "--max-p99-ms nan: must be a finite"),
    "max-delivery-p99-inf": ((*LOADTEST, *RATE, "--max-delivery-p99-ms", "inf"), "--max-delivery-p99-ms inf"),
    "find-max-factor-nan": ((*LOADTEST, *RATE, "--find-max", "--factor", "nan"), "the factor must be a finite"),
    "find-max-max-rate-nan": ((*LOADTEST, *RATE, "--find-max", "--max-rate", "nan"), "the largest rate"),
    "find-max-p99-inf": ((*LOADTEST, *RATE, "--find-max", "--max-p99-ms", "inf"), "max_latency_p99_ms must be"),
    "find-max-429-nan": ((*LOADTEST, *RATE, "--find-max", "--max-429", "nan"), "max_rate_limited must be"),
    "report-missing-folder": ((*LOADTEST, *RATE, "--report", "/nonexistent-f16/r.html"), "does not exist"),
    "max-in-flight-zero": ((*LOADTEST, *RATE, "--max-in-flight", "0"), "--max-in-flight must be at least 1"),
    "batch-size-above-plan": ((*LOADTEST, *RATE, "--batch-size", "51"), "above plans.demo.max_batch"),
    "listen-max-body-zero": (("listen", "--port", "0", "--max-body", "0"), "--max-body 0: must be at least 1"),
    "listen-connections-zero": (("listen", "--port", "0", "--max-connections", "0"), "--max-connections 0"),
    "listen-read-timeout-nan": (("listen", "--port", "0", "--read-timeout", "nan"), "--read-timeout nan"),
    "listen-idle-timeout-inf": (("listen", "--port", "0", "--idle-timeout", "inf"), "--idle-timeout inf"),
    "listen-db-dev-null": (("listen", "--port", "0", "--db", "/dev/null"), "delivery store /dev/null is a character"),
    "listen-db-folder": (("listen", "--port", "0", "--db", "."), "is a directory, not a file"),
    "track-unknown-campaign": (("track", "nosuch"), "no campaign named 'nosuch'"),
}


@pytest.mark.parametrize("args, says", list(CASES.values()), ids=list(CASES))
def test_a_bad_number_is_refused_in_one_line_with_exit_2_and_nothing_sent(
        args: tuple[str, ...], says: str, sandbox_proc: SandboxProcess, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[plans.demo]\nprovider = "sinch_xms"\nservice_plan_id = "p1"\n'
                      f'base_url = "{sandbox_proc.url}"\nrate = 1000\nmax_batch = 50\n', encoding="utf-8")
    command, *rest = args
    done = subprocess.run([sys.executable, "-m", "bulksend", command, "-c", str(config), *rest],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bulksend: "), done.stderr
    assert says in lines[0], done.stderr
    assert sandbox_proc.stats()["plans"] == {}, "a request reached the sandbox"
