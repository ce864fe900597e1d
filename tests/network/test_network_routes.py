"""How a plan's route is decided (env proxies as urllib reads them, one TLS
context per ca_file), and that the load tester and ``track`` take it too."""

from __future__ import annotations

import base64
import csv
import ssl
from pathlib import Path

import pytest
import trustme

from bulksend.delivery import Sent, SqliteDeliveryStore
from bulksend.delivery.tracker import track_campaign
from bulksend.engine import CampaignSpec, Engine
from bulksend.engine.network import Network, env_proxy
from bulksend.errors import ConfigError
from bulksend.loadtest import LoadSpec, RateProfile, run_loadtest
from bulksend.models import Message
from bulksend.recipients import RecipientSource
from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from tests.helpers import ConnectProxy, make_config, plan_table, write_numbers

pytestmark = pytest.mark.timeout(60)
URL = "https://api.provider.example:443/xms"


@pytest.mark.parametrize(("env", "url", "expected"), [
    ({}, URL, None),
    ({"HTTPS_PROXY": "http://proxy.corp:3128"}, URL, ("http://proxy.corp:3128", None)),
    ({"HTTPS_PROXY": "proxy.corp:3128"}, URL, ("http://proxy.corp:3128", None)),  # scheme-less, as curl
    ({"HTTPS_PROXY": "http://a:3128", "https_proxy": "http://b:3128"}, URL, ("http://b:3128", None)),
    ({"HTTP_PROXY": "http://proxy.corp:3128"}, URL, None),  # http_proxy is for http URLs
    ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://127.0.0.1:8080", ("http://proxy.corp:3128", None)),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "provider.example"}, URL, None),  # domain suffix
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".provider.example"}, URL, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, URL, None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example"}, URL, ("http://p:1", None)),
    # as aiohttp's trust_env: the host alone is matched, so a host:port entry does not
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.provider.example:443"}, URL, ("http://p:1", None)),
    ({"HTTPS_PROXY": "http://p:1", "https_proxy": ""}, URL, None),  # lower-case empty unsets
])
def test_env_proxy_reads_the_variables_as_urllib_does(env: dict[str, str], url: str,
                                                      expected: tuple[str, str | None] | None) -> None:
    assert env_proxy(env, url) == expected


def test_env_proxy_credentials_become_a_header_and_leave_the_url() -> None:
    found = env_proxy({"HTTPS_PROXY": "http://ann%40corp:p%3Ass@proxy.corp:3128"}, URL)
    assert found is not None
    proxy, auth = found
    assert proxy == "http://proxy.corp:3128"
    assert auth == "Basic " + base64.b64encode(b"ann@corp:p:ss").decode()


def test_an_https_proxy_in_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="only http:// proxies"):
        env_proxy({"HTTPS_PROXY": "https://proxy.corp:3128"}, URL)


def test_one_context_per_ca_file_built_once(tmp_path: Path) -> None:
    ca_a, ca_b = tmp_path / "a.pem", tmp_path / "b.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_a))
    trustme.CA().cert_pem.write_to_path(str(ca_b))
    config = make_config({
        "one": plan_table(URL, ca_file=str(ca_a)), "two": plan_table(URL, ca_file=str(ca_a)),
        "three": plan_table(URL, ca_file=str(ca_b)), "four": plan_table(URL), "five": plan_table(URL),
    })
    network = Network({})
    routes = {name: network.route(plan) for name, plan in config.plans.items()}
    assert routes["one"].ssl is routes["two"].ssl
    assert routes["four"].ssl is routes["five"].ssl is network.context()
    assert len({id(r.ssl) for r in routes.values()}) == 3
    for route in routes.values():  # verification is on, whatever the plan says
        assert route.ssl.verify_mode == ssl.CERT_REQUIRED and route.ssl.check_hostname
        assert route.proxy is None and "ssl" in route.request_kwargs()


def test_the_route_never_shows_the_proxy_credentials() -> None:
    plan = make_config({"a": plan_table(URL, proxy="http://proxy.corp:3128", proxy_auth_env="P")}).plan("a")
    route = Network({"P": "ann:s3cret"}).route(plan)
    assert route.describe() == "through the proxy proxy.corp:3128"
    assert "s3cret" not in repr(route) and "s3cret" not in route.describe()
    assert route.request_kwargs()["proxy_headers"] == {
        "Proxy-Authorization": "Basic " + base64.b64encode(b"ann:s3cret").decode()}
    with pytest.raises(ConfigError, match="P must hold user:password"):
        Network({"P": "no-colon"}).route(plan)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return server, str(tmp_path / "ca.pem")


async def test_loadtest_over_tls_through_the_plans_proxy(tls: tuple[ssl.SSLContext, str]) -> None:
    server, ca_file = tls
    async with running(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)}), ssl_context=server) as sb, \
            ConnectProxy() as proxy:
        plan = make_config({"demo": plan_table(sb.url, ca_file=ca_file, proxy=proxy.url)}).plan("demo")
        result = await run_loadtest(LoadSpec(plan, RateProfile.constant(100, 1.0)), env={})
        received = sb.state.plans["p1"].stats.recipients
    assert result.recipients_sent == result.accepted == received == 100
    assert proxy.tunnels and set(proxy.tunnels) == {sb.url.removeprefix("https://")}


async def test_track_polls_over_tls_through_https_proxy(tls: tuple[ssl.SSLContext, str], tmp_path: Path) -> None:
    server, ca_file = tls
    numbers = write_numbers(tmp_path / "n.txt", 30)
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), ssl_context=server) as sb, \
            ConnectProxy() as proxy:
        config = make_config({"a": plan_table(sb.url, ca_file=ca_file, max_batch=10, burst=10)})
        async with Engine(config, env={}) as engine:  # sent direct
            summary = await engine.send(CampaignSpec("c", "a", Message("Hi"), RecipientSource(str(numbers)),
                                                     results_path=str(tmp_path / "r.csv")))
        assert summary.sent == 30 and proxy.tunnels == []
        with (tmp_path / "r.csv").open() as f:
            sent = [Sent("c", row["msisdn"], row["batch_id"], 1.0) for row in csv.DictReader(f)]
        async with SqliteDeliveryStore(tmp_path / "d.db") as store:
            await store.record_sent(sent)
            result = await track_campaign(config, store, "c", "a", env={"HTTPS_PROXY": proxy.url})
    assert (result.candidates, result.requests, result.errors) == (30, 3, 0)  # one poll a batch
    assert proxy.tunnels and set(proxy.tunnels) == {sb.url.removeprefix("https://")}


async def test_loadtest_against_an_unverified_certificate_stops_with_the_reason(
        tls: tuple[ssl.SSLContext, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    server, _ = tls
    async with running(SandboxConfig(plans={"p1": SandboxPlan(rate=1e6, burst=1e6)}), ssl_context=server) as sb:
        plan = make_config({"demo": plan_table(sb.url)}).plan("demo")
        result = await run_loadtest(LoadSpec(plan, RateProfile.constant(50, 1.0)), env={})
        received = sb.state.plans["p1"].stats.recipients if "p1" in sb.state.plans else 0
    assert result.accepted == received == 0
    assert "cannot verify the TLS certificate of 127.0.0.1" in result.stopped
