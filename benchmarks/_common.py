"""What the benchmarks share: a sink sandbox in its own process, and a child
process measured on its own (wall time, peak RSS and CPU from wait4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def start_sandbox(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``bulksend sandbox`` on a free loopback port: (process, URL). No arguments:
    ``--sink --open-plans`` (every plan accepted, answers without checking numbers)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "sandbox", *(args or ("--sink", "--open-plans")), "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return proc, line.split("listening on ")[1].split()[0]


def received(url: str, plan: str) -> int:
    """Recipients the sandbox counted for ``plan``: a contender that lost some shows here."""
    with urllib.request.urlopen(f"{url}/_sandbox/stats", timeout=10) as resp:
        stats = json.load(resp)["plans"].get(plan, {})
    return int(stats.get("recipients", 0))


def measured(cmd: list[str], cwd: Path | None = None,
             env: dict[str, str] | None = None) -> tuple[str, float, float, float]:
    """Run ``cmd``: (stdout, wall s, peak RSS MB, CPU s) of that child alone (wait4).

    CPU seconds (user + system) are the steadier figure on a busy machine.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise SystemExit(f"{' '.join(cmd[:5])} failed ({code}): {err.read()[-1500:]}")
        return out.read(), wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def tree_env(tree: str | None) -> dict[str, str] | None:
    """The environment that runs ``python -m bulksend`` from another source tree
    (a checkout of an older commit, to measure before and after in one run)."""
    if tree is None:
        return None
    return {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
