"""Whole Sinch Classic campaigns through the engine and the real sandbox on 127.0.0.1."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulksend.engine import CampaignSpec, Engine
from bulksend.models import Message
from bulksend.providers.signing import iso_timestamp, sign_classic
from bulksend.recipients import RecipientSource
from bulksend.sandbox import Faults, SandboxConfig, SandboxPlan
from tests.helpers import make_config, write_numbers

FAST_RETRY = {"initial": 0.01, "max": 0.1, "jitter": 0.01, "attempts": 10}
KEY, SECRET = "app-key-1", "BeIukql3pTKJ8RGL5zo0DA=="
ENV = {"CL_KEY": KEY, "CL_SECRET": SECRET}


def cl_plan(url: str, auth: str = "signed", **kw: Any) -> dict[str, Any]:
    return {"provider": "sinch_classic", "base_url": f"{url}/classic/cl", "auth": auth, "key_env": "CL_KEY",
            "secret_env": "CL_SECRET", "rate": 100_000, "burst": 100, "max_batch": 1, "concurrency": 8,
            "retry": FAST_RETRY, **kw}


def spec(path: Path, body: str = "Hello", **kw: Any) -> CampaignSpec:
    return CampaignSpec("camp", "cl", Message(body, sender="+46701234567"), RecipientSource(str(path)), **kw)


def sandbox_plan(**kw: Any) -> SandboxConfig:
    return SandboxConfig(plans={"cl": SandboxPlan(key=KEY, secret=SECRET, **kw)})


@pytest.mark.parametrize("auth", ["signed", "basic"])
async def test_every_recipient_once_with_its_message_id(sandbox, tmp_path: Path, auth: str) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 400)
    async with sandbox(sandbox_plan()) as sb:
        config = make_config({"cl": cl_plan(sb.url, auth)})
        async with Engine(config, env=ENV) as engine:
            summary = await engine.send(spec(numbers, results_path=str(tmp_path / "r.csv")))
        stats = sb.state.plans["cl"]
    assert (summary.sent, summary.requests, summary.exit_code) == (400, 400, 0)
    assert len(stats.received) == 400 and max(stats.received.values()) == 1 and stats.stats.unauthorized == 0
    with (tmp_path / "r.csv").open() as f:
        ids = [row["batch_id"] for row in csv.DictReader(f)]
    assert len(set(ids)) == 400 and set(ids) == set(stats.batches)


async def test_templated_body_rendered_per_recipient(sandbox, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("phone,code\n46700000001,111\n46700000002,222\n", encoding="utf-8")
    async with sandbox(sandbox_plan()) as sb:
        async with Engine(make_config({"cl": cl_plan(sb.url)}), env=ENV) as engine:
            summary = await engine.send(spec(path, body="Your code is ${code}"))
        texts = {r.to[0]: r.data["message"] for r in sb.state.plans["cl"].batches.values()}
    assert summary.sent == 2 and texts == {"46700000001": "Your code is 111", "46700000002": "Your code is 222"}


@pytest.mark.parametrize("auth", ["signed", "basic"])
async def test_wrong_secret_is_401_40100_and_refuses_the_campaign(sandbox, tmp_path: Path, auth: str) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 200)
    async with sandbox(sandbox_plan()) as sb:
        env = {"CL_KEY": KEY, "CL_SECRET": "AAAAAAAAAAAAAAAAAAAAAA=="}
        async with Engine(make_config({"cl": cl_plan(sb.url, auth)}), env=env) as engine:
            summary = await engine.send(spec(numbers))
        stats = sb.state.plans["cl"].stats
    assert summary.exit_code == 3 and summary.sent == 0 and stats.recipients == 0
    assert "40100" in summary.stopped_reason and SECRET not in summary.stopped_reason


async def test_unreachable_numbers_fail_alone(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    async with sandbox(sandbox_plan(reject_suffix="13")) as sb:
        async with Engine(make_config({"cl": cl_plan(sb.url)}), env=ENV) as engine:
            summary = await engine.send(spec(numbers, results_path=str(tmp_path / "r.csv")))
    assert (summary.sent, summary.failed, summary.exit_code) == (297, 3, 1)
    with (tmp_path / "r.csv").open() as f:
        codes = {row["msisdn"]: row["code"] for row in csv.DictReader(f) if row["status"] == "failed"}
    assert set(codes.values()) == {"40001"} and all(n.endswith("13") for n in codes)


async def test_not_enough_funds_40200_stops_the_campaign(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 300)
    async with sandbox(sandbox_plan(credit=120)) as sb:
        async with Engine(make_config({"cl": cl_plan(sb.url, concurrency=1)}), env=ENV) as engine:
            summary = await engine.send(spec(numbers))
    assert summary.exit_code == 3 and summary.sent == 120 and "funds" in summary.stopped_reason


async def test_internal_errors_are_retried(sandbox, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 500)
    faults = Faults(error_rate=0.15, rate_limit_rate=0.1, retry_after=0.01)
    async with sandbox(SandboxConfig(plans={"cl": SandboxPlan(key=KEY, secret=SECRET)}, faults=faults,
                                     seed=9)) as sb:
        async with Engine(make_config({"cl": cl_plan(sb.url)}), env=ENV) as engine:
            summary = await engine.send(spec(numbers))
        stats = sb.state.plans["cl"]
    assert summary.sent == 500 and summary.retries > 0 and max(stats.received.values()) == 1


async def test_sandbox_signature_checks(sandbox) -> None:
    async with sandbox(sandbox_plan()) as sb:
        path = "/classic/cl/v1/sms/+46700000001"
        body = b'{"message":"hi"}'
        now = time.time()
        good = sign_classic("POST", path, body, "application/json", KEY, SECRET, iso_timestamp(now))
        stale = sign_classic("POST", path, body, "application/json", KEY, SECRET, iso_timestamp(now - 3600))
        other = sign_classic("POST", path, body, "application/json", "other", SECRET, iso_timestamp(now))
        async with aiohttp.ClientSession() as s:
            async def post(headers: dict[str, str], data: bytes = body) -> tuple[int, Any]:
                async with s.post(sb.url + path, data=data, headers=headers) as r:
                    return r.status, await r.json()

            assert (await post(good))[0] == 200
            assert (await post(good, b'{"message":"tampered"}'))[1]["errorCode"] == 40100
            assert (await post(stale))[1]["errorCode"] == 40100
            assert (await post(other))[1]["errorCode"] == 40100
            assert (await post({"Content-Type": "application/json"}))[0] == 401
            assert (await post({"Authorization": "Bearer x"}))[1]["errorCode"] == 40301
            status, answer = await post(good, b'{"from":"x"}')
            assert status == 401  # the signature covers the body, so this one fails first
            sig = sign_classic("POST", path, b"{}", "application/json", KEY, SECRET, iso_timestamp(now))
            assert (await post(sig, b"{}"))[1]["errorCode"] == 40002
