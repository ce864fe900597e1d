"""Engine throughput: bulksend vs a hand-written aiohttp baseline, same run.

A sandbox in sink mode runs in its own process (one core for the server,
one for the client). Each contender runs in its own process too, so its
peak RSS can be read from ``wait4``. Unthrottled plan, same concurrency.

    python benchmarks/bench_engine.py                      # 1,000,000 recipients, 200 and 1 per batch
    python benchmarks/bench_engine.py --recipients 200000 --single 50000   # quicker
    git worktree add /tmp/before REV && python benchmarks/bench_engine.py --before /tmp/before

With ``--before TREE`` the bulksend of another source tree (an older commit
checked out there) runs as a third contender in the same rounds, so a
change is measured before and after in one run, each against the same
baseline.

Prints, per batch size: recipients/s, requests/s and peak RSS for each
contender, and bulksend's ratio to the baseline. The contenders alternate
for ``--rounds`` rounds (default 3) and each figure is the median, because
one run on a shared 2-core machine can be 30 % off the next; the ratio of
every round is printed too. The sandbox's own count is checked after every
run, so a contender that lost recipients shows up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import measured, received, start_sandbox, tree_env  # noqa: E402


def make_list(path: Path, count: int) -> Path:
    if path.exists() and path.stat().st_size > 0:
        return path
    with path.open("w", encoding="utf-8") as f:
        f.write("phone,name\n")
        for i in range(count):
            f.write(f"+4670{i:07d},N{i}\n")
    return path


def bulksend_cmd(url: str, plan: str, listing: Path, batch: int, concurrency: int,
                 workdir: Path, extra: list[str]) -> list[str]:
    config = workdir / f"{plan}.toml"
    config.write_text(
        f'[plans.{plan}]\nprovider = "sinch_xms"\nservice_plan_id = "{plan}"\nbase_url = "{url}"\n'
        f'from = "Bench"\nrate = 1000000000\nburst = 1000000\nmax_batch = {batch}\n'
        f'concurrency = {concurrency}\n', encoding="utf-8")
    return [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", plan,
            "--recipients", str(listing), "--message", "Hello from the benchmark",
            "--campaign", plan, "--json", "--no-progress", *extra]


def baseline_cmd(url: str, plan: str, listing: Path, batch: int, concurrency: int) -> list[str]:
    return [sys.executable, str(HERE / "baseline_aiohttp.py"), "--url", url, "--plan", plan,
            "--recipients", str(listing), "--batch", str(batch), "--concurrency", str(concurrency)]


def contender(name: str, cmd: list[str], url: str, plan: str, expected: int,
              cwd: Path | None = None, env: dict[str, str] | None = None) -> dict[str, float | str]:
    out, _wall, rss, cpu = measured(cmd, cwd, env)
    data = json.loads(out.strip().splitlines()[-1])
    got = received(url, plan)
    elapsed = float(data["elapsed_s"])
    requests = float(data["requests"])
    row: dict[str, float | str] = {
        "contender": name, "recipients": got, "elapsed_s": elapsed,
        "rate": got / elapsed, "requests_per_s": requests / elapsed, "peak_rss_mb": rss,
        "cpu_us_per_recipient": cpu / max(got, 1) * 1e6,
    }
    if got != expected:
        row["note"] = f"sandbox received {got:,}, expected {expected:,}"
    return row


def median_row(runs: list[dict[str, float | str]]) -> dict[str, float | str]:
    """Each figure's median over the rounds; a note from any round is kept."""
    row: dict[str, float | str] = {"contender": runs[0]["contender"]}
    for key in ("recipients", "elapsed_s", "rate", "requests_per_s", "peak_rss_mb", "cpu_us_per_recipient"):
        row[key] = statistics.median(float(r[key]) for r in runs)
    notes = [str(r["note"]) for r in runs if "note" in r]
    if notes:
        row["note"] = "; ".join(notes)
    return row


def print_table(rows: list[dict[str, float | str]]) -> None:
    print(f"{'contender':<28}{'recipients':>12}{'recipients/s':>14}{'requests/s':>12}{'peak RSS MB':>13}"
          f"{'CPU us/recipient':>18}")
    for r in rows:
        print(f"{r['contender']:<28}{int(r['recipients']):>12,}{float(r['rate']):>14,.0f}"
              f"{float(r['requests_per_s']):>12,.0f}{float(r['peak_rss_mb']):>13.1f}"
              f"{float(r['cpu_us_per_recipient']):>18.2f}  {r.get('note', '')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipients", type=int, default=1_000_000, help="list size for 200 per batch")
    ap.add_argument("--single", type=int, default=1_000_000, help="list size for 1 per batch")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs of each contender; medians printed")
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "bulksend-bench"))
    ap.add_argument("--bulksend-arg", action="append", default=[],
                    help="extra argument for 'bulksend send' (repeatable), e.g. --bulksend-arg=--no-journal")
    ap.add_argument("--before", metavar="TREE",
                    help="also run the bulksend of this source tree (e.g. a worktree of an older commit) each round")
    args = ap.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    big = make_list(data / f"list-{args.recipients}.csv", args.recipients)
    small = make_list(data / f"list-{args.single}.csv", args.single)
    proc, url = start_sandbox()
    print(f"sandbox (sink mode) at {url}; concurrency {args.concurrency}; python {sys.version.split()[0]}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for batch, listing, count in ((200, big, args.recipients), (1, small, args.single)):
                base: list[dict[str, float | str]] = []
                bulk: list[dict[str, float | str]] = []
                before: list[dict[str, float | str]] = []
                for r in range(args.rounds):
                    base.append(contender("baseline (aiohttp+json)", baseline_cmd(
                        url, f"base{batch}-{r}", listing, batch, args.concurrency), url, f"base{batch}-{r}", count))
                    if args.before:
                        old = work / f"old{batch}-{r}"
                        old.mkdir()
                        before.append(contender("bulksend (before)", bulksend_cmd(
                            url, f"old{batch}-{r}", listing, batch, args.concurrency, old, args.bulksend_arg),
                            url, f"old{batch}-{r}", count, cwd=old, env=tree_env(args.before)))
                    fresh = work / f"bulk{batch}-{r}"  # each run its own journal (if on)
                    fresh.mkdir()
                    bulk.append(contender("bulksend", bulksend_cmd(
                        url, f"bulk{batch}-{r}", listing, batch, args.concurrency, fresh, args.bulksend_arg),
                        url, f"bulk{batch}-{r}", count, cwd=fresh))
                for a, b in zip(base, bulk):
                    print(f"  round: baseline {float(a['rate']):,.0f} rec/s {float(a['cpu_us_per_recipient']):.2f} us, "
                          f"bulksend {float(b['rate']):,.0f} rec/s {float(b['cpu_us_per_recipient']):.2f} us", flush=True)
                rows = [median_row(base), *([median_row(before)] if before else []), median_row(bulk)]
                print(f"\n{count:,} recipients, {batch} per batch, median of {args.rounds}")
                print_table(rows)
                for name, runs in (("bulksend (before)", before), ("bulksend", bulk)):
                    if not runs:
                        continue
                    ratio = float(median_row(runs)["rate"]) / float(rows[0]["rate"])
                    rounds = [float(b["rate"]) / float(a["rate"]) for a, b in zip(base, runs)]
                    each = ", ".join(f"{r:.2f}" for r in rounds)
                    print(f"{name} / baseline throughput: {ratio:.2f}x of the medians, "
                          f"{statistics.median(rounds):.2f}x the median round (rounds: {each})")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
