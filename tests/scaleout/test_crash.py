"""Crash safety end to end: worker processes killed with SIGKILL, Redis restarted,
mid-campaign; the sandbox must have received every number exactly once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.cli.test_json_schemas import check as check_schema
from tests.helpers import write_config, write_numbers
from tests.scaleout.redis_server import RedisServer

RECIPIENTS = 4000


class _Worker:
    """A ``bulksend worker`` process, its stderr in its own file."""

    def __init__(self, config: Path, url: str, directory: Path, n: int) -> None:
        self.log = directory / f"worker{n}.log"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "bulksend", "worker", "--config", str(config),
                                          "--broker", url, "--lease", "2"], stdout=subprocess.DEVNULL, stderr=err)

    @property
    def working(self) -> bool:
        return "ready" in self.log.read_text()


def test_kill_9_of_workers_and_a_redis_restart_lose_and_double_nothing(
        tmp_path: Path, redis_server: RedisServer, sandbox_process: Any) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url, rate=500, burst=20, max_batch=10, concurrency=4, timeout=1)
    numbers = write_numbers(tmp_path / "list.txt", RECIPIENTS)
    started = [_Worker(config, redis_server.url, tmp_path, n) for n in range(4)]
    workers = list(started)
    submitter = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", "a", "--recipients",
         str(numbers), "--message", "hello", "--campaign", "crash", "--journal", str(tmp_path / "j.db"),
         "--broker", redis_server.url, "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rng = random.Random(3)
    kills, restarted = 0, False
    deadline = time.monotonic() + 55
    try:
        time.sleep(1.0)
        while submitter.poll() is None and time.monotonic() < deadline:
            ready = [w for w in workers if w.working]
            if kills < 6 and len(ready) >= 2:  # a worker that is sending, never one still starting
                victim = rng.choice(ready)
                workers.remove(victim)
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
                kills += 1
                started.append(_Worker(config, redis_server.url, tmp_path, len(started)))
                workers.append(started[-1])
            if kills == 3 and not restarted:
                redis_server.restart()
                restarted = True
            time.sleep(0.6)
        out, err = submitter.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if submitter.poll() is None:
            submitter.kill()
        for w in workers:
            w.proc.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.proc.wait(10)
            except subprocess.TimeoutExpired:
                w.proc.kill()
    logs = "".join(w.log.read_text() for w in started)
    assert kills >= 5 and restarted, "the campaign ended before the faults"
    assert submitter.returncode == 0, err + logs
    result = json.loads(out)
    check_schema("run", result)  # send --broker --json: a local send's JSON
    assert result["sent"] == RECIPIENTS and result["journal"]["counts"]["accepted"] == RECIPIENTS
    plan = sb.stats()["plans"]["p1"]
    assert plan["distinct_numbers"] == RECIPIENTS
    assert plan["numbers_received_more_than_once"] == 0
    taken_over = sum(int(line.split(" taken over")[0].rsplit(" ", 1)[1])
                     for line in logs.splitlines() if " taken over" in line)
    assert taken_over > 0 and plan["lookups"] > 0  # killed workers' batches: taken over, looked up first
