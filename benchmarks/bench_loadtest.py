"""Load-generator ceiling: the highest rate at which ``bulksend loadtest``
keeps its open-loop schedule, beside what a plain aiohttp client and wrk
get out of the same local endpoint.

"Keeps its schedule" means, for 1 recipient per request: achieved rate at
least 99% of the target and p99 lateness (actual send time minus intended
send time) under 5 ms, with no 429s, failures or dropped sends. The search
is ``bulksend loadtest --find-max`` itself with those bounds, single process
and with ``--workers 2``.

Beside it, on the same sandbox (sink mode, open plans, its own process):

* the plain aiohttp baseline (``benchmarks/baseline_aiohttp.py``: closed
  loop, a semaphore, 1 recipient per request), its best requests/s over a
  few concurrency levels;
* wrk (C, HTTP/1.1 keep-alive, POST with a JSON body from a Lua script) as
  the ceiling of the machine: the most the sandbox answers when the client
  costs next to nothing.

Set-up (wrk is not a Python package and not a dependency of bulksend)::

    apt-get install -y wrk        # Debian/Ubuntu; brew install wrk on macOS

Run::

    /work/venv/bin/python benchmarks/bench_loadtest.py            # about 2-3 minutes
    /work/venv/bin/python benchmarks/bench_loadtest.py --step-seconds 2 --max-steps 6   # quicker

On a shared machine the figures move with the neighbours' load: the 1-minute
load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BODY = "bulksend load test"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "sandbox", "--sink", "--open-plans", "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return proc, line.split("listening on ")[1].split()[0]


def write_config(workdir: Path, url: str) -> Path:
    path = workdir / "bench.toml"
    path.write_text(f'[plans.bench]\nprovider = "sinch_xms"\nservice_plan_id = "bench"\nbase_url = "{url}"\n'
                    "rate = 1000000\nburst = 1000000\nmax_batch = 1\n", encoding="utf-8")
    return path


def find_max(config: Path, workers: int, args: argparse.Namespace) -> dict[str, object]:
    cmd = [sys.executable, "-m", "bulksend", "loadtest", "--config", str(config), "--plan", "bench",
           "--find-max", "--rate", str(args.start), "--duration", str(args.step_seconds),
           "--batch-size", "1", "--message", BODY, "--workers", str(workers),
           "--max-429", "0", "--max-errors", "0", "--late-ms", "5", "--min-achieved", "0.99",
           "--factor", "2", "--precision", str(args.precision), "--max-steps", str(args.max_steps),
           "--pause", "1", "--json"]
    if args.report_dir:
        cmd += ["--report", str(Path(args.report_dir) / f"find-max-{workers}w.html")]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"loadtest failed ({done.returncode}): {done.stderr[-800:]}")
    sys.stderr.write(done.stderr)
    result: dict[str, object] = json.loads(done.stdout)
    for step in result["steps"]:  # type: ignore[attr-defined]
        print(f"    {step['rate']:>8,.0f}/s  achieved {step['achieved_rate']:>8,.1f}/s  "
              f"lateness p99 {step['lateness_p99_ms']:>7.2f} ms  latency p99 {step['latency_p99_ms']:>7.2f} ms  "
              f"{'ok' if step['ok'] else '; '.join(step['reasons'])}", flush=True)
    return result


def baseline(url: str, workdir: Path, count: int, concurrency: int) -> dict[str, float]:
    listing = workdir / f"numbers-{count}.csv"
    if not listing.exists():
        with listing.open("w", encoding="utf-8") as f:
            f.write("phone\n")
            for i in range(count):
                f.write(f"+4670{i:07d}\n")
    cmd = [sys.executable, str(HERE / "baseline_aiohttp.py"), "--url", url, "--recipients", str(listing),
           "--batch", "1", "--concurrency", str(concurrency), "--message", BODY]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def wrk(url: str, seconds: int, connections: int, threads: int, workdir: Path) -> float | None:
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (or `brew install wrk`) to measure the "
              "machine's ceiling; skipping it", flush=True)
        return None
    script = workdir / "post.lua"
    body = json.dumps({"to": ["46700000000"], "body": BODY, "client_reference": "wrk:0"})
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [[{body}]]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer sandbox"\n', encoding="utf-8")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
           f"{url}/xms/v1/bench/batches"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        print(f"wrk saw non-2xx answers:\n{out}", flush=True)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=float, default=500, help="first find-max step, recipients/s")
    parser.add_argument("--step-seconds", type=float, default=3.0, help="length of each find-max step")
    parser.add_argument("--precision", type=float, default=0.05)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--baseline-recipients", type=int, default=20_000)
    parser.add_argument("--baseline-concurrency", default="8,32,128")
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--report-dir", help="also write the find-max HTML reports here")
    args = parser.parse_args()

    print(load(), flush=True)
    started = time.perf_counter()
    proc, url = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            config = write_config(workdir, url)
            single = find_max(config, 1, args)
            double = find_max(config, 2, args)
            base = {c: baseline(url, workdir, args.baseline_recipients, int(c))
                    for c in args.baseline_concurrency.split(",")}
            ceiling = wrk(url, args.wrk_seconds, 32, 2, workdir)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    best_c, best = max(base.items(), key=lambda kv: kv[1]["requests_per_s"])
    print()
    print("Highest rate with the schedule kept (achieved >= 99% of target, p99 lateness < 5 ms),")
    print("1 recipient per request, against `bulksend sandbox --sink --open-plans` in its own process:")
    rows = [
        ("bulksend loadtest, 1 process (open loop)", single["max_rate"], _why(single)),
        ("bulksend loadtest --workers 2 (open loop)", double["max_rate"], _why(double)),
        (f"plain aiohttp baseline (closed loop, best of c={args.baseline_concurrency})",
         best["requests_per_s"], f"c={best_c}; " + ", ".join(
             f"c={c}: {r['requests_per_s']:,.0f}" for c, r in base.items())),
        (f"wrk -t2 -c32 -d{args.wrk_seconds}s (machine ceiling)", ceiling,
         "not installed" if ceiling is None else "C client, keep-alive"),
    ]
    for name, rate, why in rows:
        shown = "n/a" if rate is None else f"{float(rate):>9,.0f} req/s"  # type: ignore[arg-type]
        print(f"  {name:<66}{shown:>16}   {why}")
    print(f"\n{load()}; total {time.perf_counter() - started:.0f} s")


def _why(found: dict[str, object]) -> str:
    steps = found.get("steps", [])
    assert isinstance(steps, list)
    failing = found.get("first_failing")
    text = f"{len(steps)} steps"
    if failing is not None:
        text += f"; {float(failing):,.0f}/s failed: " + "; ".join(found.get("reasons", []))  # type: ignore[arg-type]
    return text


if __name__ == "__main__":
    main()
