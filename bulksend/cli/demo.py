"""``bulksend demo``: a whole campaign against the embedded sandbox.

No account, no network: the sandbox starts in this process on a free
loopback port, a sample list is written, and it is sent with faults
injected, so retries and reconciliation can be seen doing their work.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulksend.cli.common import print_json, print_summary, run_loop
from bulksend.cli.json_out import run_document
from bulksend.cli.render import demo_journal_text, demo_sandbox_text
from bulksend.cli.runs import add_journal, progress

if TYPE_CHECKING:  # imported when the demo runs, not to parse its options
    from bulksend.campaigns import JournalSummary
    from bulksend.engine import CampaignSummary

DEMO_MESSAGE = "Hi ${name}, your code is ${code}. Reply STOP to opt out."


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="send a sample campaign to the built-in sandbox",
        description="Start the sandbox, write a sample list and send it, with faults injected.")
    p.add_argument("--recipients", type=int, default=10_000, help="list size (default 10,000)")
    p.add_argument("--rate", type=float, default=5_000, help="plan rate, recipients/s (default 5,000)")
    p.add_argument("--no-faults", action="store_true", help="a clean sandbox, no injected faults")
    p.add_argument("--workdir", default="bulksend-demo", help="where the list and results go")
    p.add_argument("--seed", type=int, default=7, help="seed for the sample list and the fault dice (default 7)")
    add_journal(p)
    p.add_argument("--no-journal", action="store_true", help="keep no journal of the demo campaign")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def write_sample(path: Path, count: int, seed: int) -> None:
    """A CSV with names and codes, a few invalid lines and a few duplicates."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ("Ana", "Bo", "Chen", "Dara", "Emil", "Fatou", "Goran", "Hana")
    with path.open("w", encoding="utf-8") as f:
        f.write("phone,name,code\n")
        for i in range(count):
            if i % 1000 == 999:
                f.write(f"0{rng.randrange(10**8)},{names[i % 8]},000\n")  # national format: invalid
            elif i % 1000 == 500:
                f.write(f"+46 70 {1_000_000 + i - 1},{names[i % 8]},{rng.randrange(10**6):06d}\n")  # duplicate
            else:
                f.write(f"+46 70 {1_000_000 + i},{names[i % 8]},{rng.randrange(10**6):06d}\n")


async def _demo(args: argparse.Namespace) -> tuple[CampaignSummary, JournalSummary | None, dict[str, Any]]:
    import asyncio

    from bulksend.api import build_spec, send_campaign
    from bulksend.campaigns import RunOptions, journal_settings, send_journaled
    from bulksend.providers import parse_config
    from bulksend.sandbox import Faults, SandboxConfig, SandboxPlan, running

    burst = 1000
    faults = Faults() if args.no_faults else Faults(
        error_rate=0.02, rate_limit_rate=0.02, retry_after=0.2, drop_rate=0.01, accept_drop_rate=0.01,
        late_accept_rate=0.01, late_accept_ms=100)
    # The provider's bucket: the plan's rate, one batch of slack for network jitter.
    sandbox = SandboxConfig(plans={"demo": SandboxPlan(rate=args.rate, burst=burst + 200, mode="reject")},
                            faults=faults, seed=args.seed)
    workdir = Path(args.workdir)
    write_sample(workdir / "numbers.csv", args.recipients, args.seed)
    async with running(sandbox) as sb:
        config = parse_config({"plans": {"demo": {
            "provider": "sinch_xms", "service_plan_id": "demo", "base_url": sb.url,
            "rate": args.rate, "burst": burst, "max_batch": 200, "concurrency": 8, "from": "BulkSend",
            # the sandbox answers in milliseconds: a dropped batch it does not hold is sent again after 1 s
            "timeout": 1.0, "retry": {"initial": 0.1, "max": 2.0, "jitter": 0.2},
        }}}, "<demo>")
        spec = build_spec(plan="demo", recipients=str(workdir / "numbers.csv"), message=DEMO_MESSAGE,
                          campaign="demo", sender="BulkSend", results=str(workdir / "results.csv"))
        outcome = None
        if args.no_journal:
            summary = await send_campaign(config, spec, handle_signals=True, force=True,  # the demo's own files
                                          on_start=None if args.no_progress else progress)
        else:  # a new campaign each run (demo, demo-2, ...): its sandbox lives only as long as the demo
            outcome = await send_journaled(config, spec, journal_settings(None, args.journal),
                                           options=RunOptions(force=True), handle_signals=True, fresh=True,
                                           on_start=None if args.no_progress else progress)
            assert outcome.summary is not None
            summary = replace(outcome.summary, exit_code=outcome.exit_code)
            print(demo_journal_text(outcome), file=sys.stderr)
        await asyncio.gather(*sb.state.background)  # late accepts land before the count is read
        return summary, outcome, sb.state.stats()["plans"]["demo"]


def run(args: argparse.Namespace) -> int:
    summary, outcome, received = run_loop(_demo(args))
    if args.json:
        print_json(run_document("demo", campaign=summary.campaign, plan=summary.plan, exit_code=summary.exit_code,
                                summary=summary, journal=outcome, sandbox=received))
        return summary.exit_code
    print_summary(summary)
    print(demo_sandbox_text(received, args.workdir))
    return summary.exit_code
