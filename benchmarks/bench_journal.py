"""The journal's cost: throughput with it on and off, staging time, peak RSS.

A sandbox in sink mode runs in its own process; every ``bulksend send``
runs in its own process too, so its peak RSS is read from ``wait4``.
Unthrottled plan. On and off alternate in the same run, each on a fresh
journal, so both see the same machine.

    python benchmarks/bench_journal.py                       # 1M at 200/batch, 50k at 1/batch, 10M staged
    python benchmarks/bench_journal.py --recipients 200000 --single 20000 --stage 1000000 --campaign 0

Figures printed:

* recipients/s, journal off vs on, as the run counts it (``elapsed_s``:
  from reading the first line to the last answer; the journal reads the
  list while it sends), and end to end (process start to exit);
* time to stage N recipients into a fresh journal without sending them (a
  child process that only stages, as for a campaign held until its start
  time), and that child's peak RSS;
* peak RSS and wall time of a whole journaled campaign of ``--campaign``
  recipients (default: the staged size, 10M) against the sink.

The staged list holds distinct numbers in scrambled order (a permutation),
with one line in 1,000 repeated, so deduplication has work to do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import measured, received, start_sandbox  # noqa: E402


def make_list(path: Path, count: int, scrambled: bool = False) -> Path:
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as f:
        f.write("phone,name\n")
        block = []
        for i in range(count):
            n = (i * 2_654_435_761) % 1_000_000_000 if scrambled else i
            if scrambled and i % 1000 == 999:
                n = ((i - 500) * 2_654_435_761) % 1_000_000_000  # a repeat of an earlier line
            block.append(f"+46{700_000_000 + n},N{i}\n")
            if len(block) >= 100_000:
                f.writelines(block)
                block.clear()
        f.writelines(block)
    tmp.rename(path)
    return path


def write_config(work: Path, url: str, plan: str, batch: int, concurrency: int) -> Path:
    config = work / f"{plan}.toml"
    config.write_text(
        f'[plans.{plan}]\nprovider = "sinch_xms"\nservice_plan_id = "{plan}"\nbase_url = "{url}"\n'
        f'from = "Bench"\nrate = 1000000000\nburst = 1000000\nmax_batch = {batch}\n'
        f'concurrency = {concurrency}\n', encoding="utf-8")
    return config


def one_send(url: str, work: Path, plan: str, listing: Path, batch: int, concurrency: int,
             journal: Path | None, expected: int) -> dict[str, float]:
    config = write_config(work, url, plan, batch, concurrency)
    cmd = [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", plan,
           "--recipients", str(listing), "--message", "Hello from the benchmark", "--campaign", plan,
           "--json", "--no-progress"]
    cmd += ["--journal", str(journal)] if journal else ["--no-journal"]
    out, wall, rss, cpu = measured(cmd, work)
    data = json.loads(out.strip().splitlines()[-1])
    got = received(url, plan)
    if got != expected:
        raise SystemExit(f"{plan}: the sandbox received {got:,}, expected {expected:,}")
    staging = float((data.get("journal") or {}).get("staging_s") or 0.0)  # null without the journal
    return {"rate": got / float(data["elapsed_s"]), "e2e_rate": got / wall, "wall": wall, "rss": rss,
            "cpu_us": cpu / got * 1e6, "staging": staging}


def compare(url: str, work: Path, listing: Path, count: int, batch: int, concurrency: int,
            rounds: int) -> None:
    rows: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for r in range(rounds):
        for mode in ("off", "on"):
            plan = f"{mode}{batch}r{r}"
            journal = work / f"{plan}.db" if mode == "on" else None
            rows[mode].append(one_send(url, work, plan, listing, batch, concurrency, journal, count))
    print(f"\n{count:,} recipients, {batch} per batch, concurrency {concurrency}, median of {rounds}")
    print(f"{'journal':<9}{'engine rec/s':>14}{'end-to-end rec/s':>18}{'wall s':>9}{'staging s':>11}"
          f"{'peak RSS MB':>13}{'CPU us/rec':>12}")
    med = {m: {k: statistics.median(x[k] for x in v) for k in v[0]} for m, v in rows.items()}
    for mode in ("off", "on"):
        m = med[mode]
        print(f"{mode:<9}{m['rate']:>14,.0f}{m['e2e_rate']:>18,.0f}{m['wall']:>9.1f}{m['staging']:>11.1f}"
              f"{m['rss']:>13.1f}{m['cpu_us']:>12.2f}")
    print(f"on/off: engine {med['on']['rate'] / med['off']['rate']:.2f}x, "
          f"end to end {med['on']['e2e_rate'] / med['off']['e2e_rate']:.2f}x")


def stage_child(listing: str, db: str) -> None:
    """Child mode: stage ``listing`` into a fresh journal ``db`` and print the timing."""
    sys.path.insert(0, str(HERE.parent))
    from bulksend.core.estimate import BodyMeter
    from bulksend.journal import Journal, store
    from bulksend.journal.records import ListSource, Target
    from bulksend.journal.staging import Stager
    from bulksend.models import Message

    async def go() -> dict[str, float]:
        async with await Journal.open(db) as journal:
            # ``call`` (not ``write``), so this script also measures trees from before ``Journal.write``
            c = await journal.call(store.create_campaign, "stage", Target("p", "sinch_xms", "p", "http://127.0.0.1"),
                                   Message("Hello from the benchmark"), ListSource(listing), None, None,
                                   journal.clock(), write=True)
            stager = Stager(c, BodyMeter())
            started = time.perf_counter()
            while not stager.done:
                await journal.call(stager.step, write=True)
            appended = time.perf_counter() - started
            dups, total = await journal.call(store.finish_staging, c.id, stager.meter.tally.to_dict(), appended,
                                             journal.clock(), write=True)
            return {"total": total, "duplicates": dups, "read": stager.read, "append_s": appended,
                    "staging_s": time.perf_counter() - started}

    print(json.dumps(asyncio.run(go())))


def staging(work: Path, listing: Path, count: int) -> None:
    db = work / "stage.db"
    out, wall, rss, _cpu = measured([sys.executable, str(Path(__file__).resolve()), "--child-stage",
                                     str(listing), str(db)], work)
    data = json.loads(out)
    print(f"\nstaging {count:,} lines (scrambled, 0.1% repeated) into a fresh journal")
    print(f"  read, deduplicate and append {data['append_s']:.1f}s, "
          f"total {data['staging_s']:.1f}s ({count / data['staging_s']:,.0f} lines/s); "
          f"{data['total']:,} recipients, {data['duplicates']:,} duplicates dropped")
    print(f"  child process: wall {wall:.1f}s, peak RSS {rss:.1f} MB, journal {db.stat().st_size / 2**20:,.0f} MB")
    db.unlink()


def whole_campaign(url: str, work: Path, listing: Path, count: int) -> None:
    plan = "campaign"
    config = write_config(work, url, plan, 1000, 32)
    cmd = [sys.executable, "-m", "bulksend", "send", "--config", str(config), "--plan", plan,
           "--recipients", str(listing), "--message", "Hello from the benchmark", "--campaign", plan,
           "--journal", str(work / "campaign.db"), "--json", "--no-progress"]
    out, wall, rss, cpu = measured(cmd, work)
    data = json.loads(out.strip().splitlines()[-1])
    got = received(url, plan)
    print(f"\njournaled campaign of {count:,} lines (1000 per batch) against the sink")
    print(f"  sent {got:,} (journal: {data['journal']['counts']['accepted']:,} accepted), reading the list "
          f"{data['journal']['staging_s']:.1f}s while sending, run {data['elapsed_s']:.1f}s "
          f"({data['rate']:,.0f} rec/s), wall {wall:.1f}s, CPU {cpu:.0f}s")
    print(f"  peak RSS {rss:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipients", type=int, default=1_000_000, help="list for the 200-per-batch comparison")
    ap.add_argument("--single", type=int, default=50_000, help="list for the 1-per-batch comparison (0: skip)")
    ap.add_argument("--stage", type=int, default=10_000_000, help="lines to stage (0: skip)")
    ap.add_argument("--campaign", type=int, default=-1,
                    help="recipients of the whole journaled campaign (default: --stage; 0: skip)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "bulksend-bench"))
    ap.add_argument("--child-stage", nargs=2, metavar=("LIST", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_stage:
        stage_child(*args.child_stage)
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    proc, url = start_sandbox()
    print(f"sandbox (sink mode) at {url}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    try:
        with tempfile.TemporaryDirectory(dir=data) as tmp:
            work = Path(tmp)
            if args.recipients:
                compare(url, work, make_list(data / f"list-{args.recipients}.csv", args.recipients),
                        args.recipients, 200, args.concurrency, args.rounds)
            if args.single:
                compare(url, work, make_list(data / f"list-{args.single}.csv", args.single),
                        args.single, 1, args.concurrency, args.rounds)
            big = args.stage or (args.campaign if args.campaign > 0 else 0)
            if big:
                listing = make_list(data / f"scrambled-{big}.csv", big, scrambled=True)
                if args.stage:
                    staging(work, listing, big)
                count = big if args.campaign < 0 else args.campaign
                if count:
                    whole_campaign(url, work, make_list(data / f"scrambled-{count}.csv", count, scrambled=True),
                                   count)
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
