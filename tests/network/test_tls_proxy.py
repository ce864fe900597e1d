"""Campaigns over TLS and through a forward proxy, end to end: the sandbox
served with a certificate from a test CA (``trustme``), a CONNECT proxy on
127.0.0.1 (``tests.helpers.ConnectProxy``), the real engine in between."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trustme

from bulksend.engine import CampaignSpec, CampaignSummary, Engine
from bulksend.models import Message
from bulksend.recipients import RecipientSource
from bulksend.sandbox import RunningSandbox, SandboxConfig, SandboxPlan, running
from tests.helpers import (
    ConnectProxy,
    free_port,
    make_config,
    plan_table,
    write_numbers,
)

pytestmark = pytest.mark.timeout(60)

COUNT = 250  # three batches of 100 at most: several requests, one tunnel or more


@pytest.fixture
def tls(tmp_path: Path) -> SimpleNamespace:
    """A test CA, a server context with a certificate it issued for 127.0.0.1, the CA as a PEM file."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return SimpleNamespace(server=server, ca_file=str(ca_file))


def tls_sandbox(tls: SimpleNamespace) -> Any:
    return running(SandboxConfig(plans={"p1": SandboxPlan()}), port=0, ssl_context=tls.server)


def received(sb: RunningSandbox) -> int:
    plan = sb.state.plans.get("p1")
    return plan.stats.recipients if plan is not None else 0


async def send(url: str, numbers: Path, env: dict[str, str] | None = None, **plan: Any) -> CampaignSummary:
    config = make_config({"a": plan_table(url, **plan)})
    async with Engine(config, env=env or {}) as engine:
        return await engine.send(CampaignSpec("c", "a", Message("Hello"), RecipientSource(str(numbers))))


async def test_direct_over_tls_with_the_plans_ca_file(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    async with tls_sandbox(tls) as sb:
        assert sb.url.startswith("https://127.0.0.1:")
        summary = await send(sb.url, numbers, ca_file=tls.ca_file)
        assert received(sb) == COUNT
    assert (summary.sent, summary.failed, summary.exit_code) == (COUNT, 0, 0)


async def test_ssl_cert_file_is_honoured_without_ca_file(tls: SimpleNamespace, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's default context reads SSL_CERT_FILE when it is built (at engine start)."""
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file)
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    async with tls_sandbox(tls) as sb:
        summary = await send(sb.url, numbers)
        assert received(sb) == COUNT
    assert (summary.sent, summary.exit_code) == (COUNT, 0)


async def test_an_unverifiable_certificate_refuses_the_campaign_nothing_sent(
        tls: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    async with tls_sandbox(tls) as sb:
        summary = await send(sb.url, numbers)
        assert received(sb) == 0
        host = sb.url.removeprefix("https://")
    assert (summary.sent, summary.failed, summary.exit_code) == (0, 0, 3)
    assert summary.retries == 0  # a certificate does not get better by asking again
    reason = summary.stopped_reason
    assert f"cannot verify the TLS certificate of {host}" in reason
    assert "certificate verify failed" in reason or "unable to get local issuer certificate" in reason
    assert "ca_file" in reason and "\n" not in reason


async def test_a_ca_file_for_another_ca_is_refused_too(tls: SimpleNamespace, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    numbers = write_numbers(tmp_path / "n.txt", 10)
    async with tls_sandbox(tls) as sb:
        summary = await send(sb.url, numbers, ca_file=str(other))
        assert received(sb) == 0
    assert summary.exit_code == 3 and "cannot verify the TLS certificate" in summary.stopped_reason


async def test_through_the_proxy_named_by_https_proxy(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    async with tls_sandbox(tls) as sb, ConnectProxy() as proxy:
        summary = await send(sb.url, numbers, env={"HTTPS_PROXY": proxy.url}, ca_file=tls.ca_file)
        assert received(sb) == COUNT
        target = sb.url.removeprefix("https://")
    assert (summary.sent, summary.exit_code) == (COUNT, 0)
    assert proxy.tunnels and set(proxy.tunnels) == {target}


async def test_lower_case_https_proxy_with_credentials_in_it(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    auth = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    async with tls_sandbox(tls) as sb, ConnectProxy(auth=auth) as proxy:
        env = {"https_proxy": proxy.url.replace("http://", "http://ann:s3cret@")}
        summary = await send(sb.url, numbers, env=env, ca_file=tls.ca_file)
        assert received(sb) == COUNT
    assert summary.exit_code == 0 and proxy.tunnels and not proxy.refused


async def test_through_the_plans_proxy_with_credentials_from_proxy_auth_env(
        tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    auth = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    async with tls_sandbox(tls) as sb, ConnectProxy(auth=auth) as proxy:
        summary = await send(sb.url, numbers, env={"CORP_PROXY_AUTH": "ann:s3cret"},
                             ca_file=tls.ca_file, proxy=proxy.url, proxy_auth_env="CORP_PROXY_AUTH")
        assert received(sb) == COUNT
    assert (summary.sent, summary.exit_code) == (COUNT, 0)
    assert proxy.tunnels and not proxy.refused


async def test_the_plans_proxy_wins_over_https_proxy(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 10)
    async with tls_sandbox(tls) as sb, ConnectProxy() as ours, ConnectProxy() as env_one:
        summary = await send(sb.url, numbers, env={"HTTPS_PROXY": env_one.url},
                             ca_file=tls.ca_file, proxy=ours.url)
        assert received(sb) == 10
    assert summary.exit_code == 0 and ours.tunnels and not env_one.tunnels


async def test_wrong_proxy_credentials_refuse_the_campaign_without_leaking_them(
        tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 10)
    auth = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    async with tls_sandbox(tls) as sb, ConnectProxy(auth=auth) as proxy:
        summary = await send(sb.url, numbers, env={"CORP_PROXY_AUTH": "ann:wrong-pw"},
                             ca_file=tls.ca_file, proxy=proxy.url, proxy_auth_env="CORP_PROXY_AUTH")
        assert received(sb) == 0
    assert summary.exit_code == 3 and not proxy.tunnels and proxy.refused
    assert "407" in summary.stopped_reason and "proxy_auth_env" in summary.stopped_reason
    text = summary.stopped_reason + " ".join(summary.last_errors)
    assert "wrong-pw" not in text and "ann" not in text


async def test_no_proxy_bypasses_the_env_proxy(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", COUNT)
    async with tls_sandbox(tls) as sb, ConnectProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}
        summary = await send(sb.url, numbers, env=env, ca_file=tls.ca_file)
        assert received(sb) == COUNT
    assert summary.exit_code == 0 and proxy.tunnels == []


async def test_a_proxy_that_is_down_stops_the_campaign_resumable(tls: SimpleNamespace, tmp_path: Path) -> None:
    numbers = write_numbers(tmp_path / "n.txt", 10)
    async with tls_sandbox(tls) as sb:
        summary = await send(sb.url, numbers, ca_file=tls.ca_file, proxy=f"http://127.0.0.1:{free_port()}",
                             retry={"initial": 0.01, "max": 0.02, "jitter": 0, "attempts": 2})
        assert received(sb) == 0
    assert summary.exit_code == 75 and summary.sent == 0
    assert "cannot connect to the proxy for 127.0.0.1" in summary.stopped_reason


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "HTTP_PROXY", "http_proxy"])
async def test_plain_http_sandbox_goes_direct_whatever_the_env_says(tmp_path: Path, variable: str) -> None:
    """Plain http is loopback only (the sandbox); a corporate proxy could not reach it."""
    numbers = write_numbers(tmp_path / "n.txt", 10)
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), port=0) as sb, ConnectProxy() as proxy:
        summary = await send(sb.url, numbers, env={variable: proxy.url})
        assert received(sb) == 10
    assert summary.exit_code == 0 and proxy.tunnels == [] and proxy.refused == []
