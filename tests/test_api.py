"""The Python API as the README shows it: ``bulksend.send`` from synchronous
code, and the engine with two plans inside an event loop."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

import bulksend
from bulksend import CampaignSpec, ConfigError, Engine, Message, RecipientSource, TemplateError
from bulksend.sandbox import SandboxConfig, SandboxPlan
from tests.helpers import make_config, plan_table, write_config, write_numbers


def test_send_from_synchronous_code(sandbox_process, tmp_path: Path) -> None:
    sb = sandbox_process()
    config = write_config(tmp_path / "c.toml", sb.url)
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("phone,name,code\n+46701000001,Ana,11\n46701000002,Bo,22\n46701000002,Bo,22\n"
                       "bad,Cy,33\n", encoding="utf-8")
    summary = bulksend.send(config, plan="a", recipients=str(numbers),
                            message="Hi ${name}, your code is ${code}", campaign="spring-sale",
                            results=str(tmp_path / "out.csv"))
    assert (summary.sent, summary.failed, summary.invalid, summary.duplicates, summary.exit_code) == (2, 0, 1, 1, 0)
    with (tmp_path / "out.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["msisdn"], r["status"]) for r in rows] == [("46701000001", "accepted"), ("46701000002", "accepted")]
    assert (tmp_path / "out.rejects.csv").read_text().splitlines()[1].endswith("bad,not a phone number")
    assert sb.stats()["plans"]["p1"]["distinct_numbers"] == 2


def test_send_raises_for_bad_input_instead_of_exiting(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", "http://127.0.0.1:9")
    numbers = write_numbers(tmp_path / "n.txt", 3)
    with pytest.raises(ConfigError, match="no plan named 'nope'"):
        bulksend.send(config, plan="nope", recipients=str(numbers), message="Hi")
    with pytest.raises(TemplateError, match="name"):  # nothing to fill ${name} from: refused before sending
        bulksend.send(config, plan="a", recipients=str(numbers), message="Hi ${name}")


async def test_engine_with_two_plans_as_in_the_readme(sandbox, tmp_path: Path) -> None:
    spring = write_numbers(tmp_path / "numbers.csv", 500, start=46_700_000_000)
    ops = write_numbers(tmp_path / "ops.txt", 300, start=46_800_000_000)
    plans = {"p1": SandboxPlan(), "p2": SandboxPlan()}
    async with sandbox(SandboxConfig(plans=plans)) as sb:
        config = make_config({"demo": plan_table(sb.url), "alerts": plan_table(sb.url, service_plan_id="p2")})
        async with Engine(config) as engine:
            a = engine.submit(CampaignSpec("spring", "demo", Message("Spring sale!"), RecipientSource(str(spring))))
            b = engine.submit(CampaignSpec("alert", "alerts", Message("Service restored"), RecipientSource(str(ops))))
            summaries = await asyncio.gather(a.wait(), b.wait())
        received = {pid: p.stats.recipients for pid, p in sb.state.plans.items()}
    assert [(s.campaign, s.sent) for s in summaries] == [("spring", 500), ("alert", 300)]
    assert received == {"p1": 500, "p2": 300}


def test_synchronous_entry_points_run_on_uvloop_with_a_calmer_collector() -> None:
    import gc

    import uvloop

    from bulksend.runtime import CAMPAIGN_GC_THRESHOLD, run

    before = gc.get_threshold()

    async def inside() -> tuple[object, tuple[int, int, int]]:
        return asyncio.get_running_loop(), gc.get_threshold()

    loop, threshold = run(inside())
    assert isinstance(loop, uvloop.Loop)
    assert threshold == CAMPAIGN_GC_THRESHOLD and gc.get_threshold() == before  # restored after the run


def test_public_names_load_on_first_use_and_match_all() -> None:
    import subprocess
    import sys

    assert set(bulksend.__all__) == set(bulksend._HOME_OF) | {"__version__"}
    for name in bulksend.__all__:
        assert getattr(bulksend, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bulksend.nope  # noqa: B018
    # `import bulksend` (and a core-only command such as `bulksend count`) stays light.
    code = "import sys, bulksend, bulksend.core.segments; print(sorted(m for m in ('aiohttp', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
