"""Whole Clickatell campaigns through the engine and the real sandbox on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulksend.engine import CampaignSpec, Engine
from bulksend.models import Message
from bulksend.recipients import RecipientSource
from bulksend.sandbox import Faults, SandboxConfig, SandboxPlan
from tests.helpers import make_config, write_numbers

FAST_RETRY = {"initial": 0.01, "max": 0.1, "jitter": 0.01, "attempts": 10}


def ct_plan(url: str, plan: str = "ct", **kw: Any) -> dict[str, Any]:
    return {"provider": "clickatell", "base_url": f"{url}/clickatell/{plan}", "rate": 100_000, "burst": 1000,
            "max_batch": 200, "concurrency": 4, "retry": FAST_RETRY, **kw}


def spec(path: Path, body: str = "Hello", **kw: Any) -> CampaignSpec:
    return CampaignSpec("camp", "ct", Message(body), RecipientSource(str(path)), **kw)


def results(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return {row["msisdn"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_mixed_207_each_number_its_own_outcome(sandbox, tmp_path: Path, fmt: str) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000, start=27_990_000_000)
    plans = {"ct": SandboxPlan(reject_suffix="07")}  # 10 numbers in 1000 end with 07
    async with sandbox(SandboxConfig(plans=plans)) as sb:
        config = make_config({"ct": ct_plan(sb.url, format=fmt)})
        async with Engine(config) as engine:
            summary = await engine.send(spec(numbers, results_path=str(tmp_path / "r.csv")))
        stats = sb.state.plans["ct"]
    assert (summary.sent, summary.failed, summary.unknown) == (990, 10, 0)
    assert summary.batches == 5 and summary.requests == 5 and summary.exit_code == 1
    assert stats.stats.recipients == 990 and max(stats.received.values()) == 1
    rows = results(tmp_path / "r.csv")
    failed = {n for n, row in rows.items() if row["status"] == "failed"}
    assert failed == {n for n in rows if n.endswith("07")}
    assert {rows[n]["code"] for n in failed} == {"114"}
    accepted_ids = {row["batch_id"] for row in rows.values() if row["status"] == "accepted"}
    assert len(accepted_ids) == 990 and accepted_ids <= set(stats.messages)


async def test_templated_message_goes_one_number_per_request(sandbox, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("phone,name\n" + "".join(f"2799000{i:04d},N{i}\n" for i in range(30)), encoding="utf-8")
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan()})) as sb:
        config = make_config({"ct": ct_plan(sb.url)})
        async with Engine(config) as engine:
            summary = await engine.send(spec(path, body="Hi ${name}!"))
        records = list(sb.state.plans["ct"].batches.values())
    assert summary.sent == 30 and summary.requests == 30
    texts = {r.to[0]: r.data["text"] for r in records}
    assert texts["27990000007"] == "Hi N7!" and len(texts) == 30


async def test_no_credit_stops_the_campaign_exit_3(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 1000, start=27_990_000_000)
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan(credit=400)})) as sb:
        config = make_config({"ct": ct_plan(sb.url, concurrency=1)})
        async with Engine(config) as engine:
            summary = await engine.send(spec(numbers))
    assert summary.exit_code == 3 and summary.sent == 400
    assert "no credit" in summary.stopped_reason and summary.not_sent == 600


async def test_wrong_token_refuses_the_campaign(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300, start=27_990_000_000)
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan(token="right")})) as sb:
        config = make_config({"ct": ct_plan(sb.url, token_env="CT_TOKEN")})
        async with Engine(config, env={"CT_TOKEN": "wrong"}) as engine:
            summary = await engine.send(spec(numbers))
        got = sb.state.plans["ct"].stats
    assert summary.exit_code == 3 and summary.sent == 0 and got.recipients == 0 and got.unauthorized >= 1
    assert "wrong" not in summary.stopped_reason


async def test_faults_are_retried_and_nobody_is_sent_twice(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 3000, start=27_990_000_000)
    faults = Faults(error_rate=0.1, rate_limit_rate=0.1, retry_after=0.01)
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan()}, faults=faults, seed=5)) as sb:
        config = make_config({"ct": ct_plan(sb.url)})
        async with Engine(config) as engine:
            summary = await engine.send(spec(numbers))
        stats = sb.state.plans["ct"]
    assert summary.sent == 3000 and summary.retries > 0 and summary.exit_code == 0
    assert len(stats.received) == 3000 and max(stats.received.values()) == 1


async def test_dropped_after_accept_is_unknown_not_resent(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 2000, start=27_990_000_000)
    faults = Faults(accept_drop_rate=0.2)
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan()}, faults=faults, seed=2)) as sb:
        config = make_config({"ct": ct_plan(sb.url)})
        async with Engine(config) as engine:
            summary = await engine.send(spec(numbers))
        stats = sb.state.plans["ct"]
    # Clickatell cannot be asked by reference: such batches stay unknown rather than risk a duplicate.
    assert summary.unknown > 0 and summary.sent + summary.unknown == 2000
    assert max(stats.received.values()) == 1


async def test_sandbox_checks_headers_and_speaks_xml(sandbox) -> None:
    async with sandbox(SandboxConfig(plans={"ct": SandboxPlan()})) as sb:
        url = f"{sb.url}/clickatell/ct/rest/message"
        auth = {"Authorization": "Bearer x", "X-Version": "1"}
        async with aiohttp.ClientSession() as s:
            async with s.post(url, json={"text": "a", "to": ["2799900001"]},
                              headers={"Authorization": "Bearer x"}) as r:
                assert r.status == 400 and "X-Version" in (await r.json())["error"]["description"]
            async with s.post(url, data=b"text=a&to=2799900001",
                              headers={**auth, "Content-Type": "application/x-www-form-urlencoded"}) as r:
                assert r.status == 400
            async with s.post(url, json={"text": "a", "to": ["2799900001", "+2799900002"]},
                              headers={**auth, "Accept": "application/xml"}) as r:
                assert r.status == 207 and r.content_type == "application/xml"
                body = await r.read()
            async with s.post(url, json={"text": "a", "to": [str(2799900000 + i) for i in range(201)]},
                              headers=auth) as r:
                assert r.status == 400
            async with s.post(url, json={"text": "a", "to": ["2799900001"]},
                              headers={**auth, "Accept": "text/html"}) as r:
                assert r.status == 406
    assert b"<accepted>true</accepted>" in body and b"<code>105</code>" in body


async def test_status_query_follows_the_same_fates(sandbox) -> None:
    from bulksend.sandbox.config import DeliverySim

    cfg = SandboxConfig(plans={"ct": SandboxPlan(rate=1e6, burst=1e6)}, delivery=DeliverySim(delay=0.1))
    async with sandbox(cfg) as sb:
        url = f"{sb.url}/clickatell/ct/rest/message"
        auth = {"Authorization": "Bearer x", "X-Version": "1"}
        async with aiohttp.ClientSession() as s:
            async with s.post(url, json={"text": "a", "to": ["2799900001"]}, headers=auth) as r:
                api_id = (await r.json())["data"]["message"][0]["apiMessageId"]
            async with s.get(f"{url}/{api_id}", headers=auth) as r:
                early = (await r.json())["data"]
            await asyncio.sleep(0.15)
            async with s.get(f"{url}/{api_id}", headers=auth) as r:
                late = (await r.json())["data"]
            async with s.get(f"{url}/nope", headers=auth) as r:
                assert r.status == 404
    assert early["messageStatus"] == "003" and late["messageStatus"] == "004"
