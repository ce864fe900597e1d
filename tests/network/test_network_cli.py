"""``bulksend send`` (a child process) over TLS and through a proxy, and the
config checks of ``proxy``, ``proxy_auth_env`` and ``ca_file``."""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from pathlib import Path

import pytest
import trustme

from bulksend.cli import main
from bulksend.errors import ConfigError
from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from tests.helpers import (
    ConnectProxy,
    make_config,
    plan_table,
    write_config,
    write_numbers,
)

pytestmark = pytest.mark.timeout(90)


def _server(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return server, tmp_path / "ca.pem"


async def _send(config: Path, numbers: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """``bulksend send`` in a child process (the test's loop keeps serving meanwhile)."""
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "SSL_CERT_FILE"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bulksend", "send", "-c", str(config), "--plan", "a", "-r", str(numbers),
        "-m", "Hello", "--no-progress", "--no-journal",
        env={**base, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_refuses_an_unverifiable_certificate_in_one_line(tmp_path: Path) -> None:
    server, _ = _server(tmp_path)
    numbers = write_numbers(tmp_path / "n.txt", 50)
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), ssl_context=server) as sb:
        config = write_config(tmp_path / "c.toml", sb.url)
        code, out, err = await _send(config, numbers, {})
        assert "p1" not in sb.state.plans or sb.state.plans["p1"].stats.recipients == 0
    host = sb.url.removeprefix("https://")
    assert code == 3, (out, err)
    lines = [line for line in (out + err).splitlines() if "cannot verify the TLS certificate" in line]
    assert len(lines) == 1 and host in lines[0] and "unable to get local issuer certificate" in lines[0]
    assert "Traceback" not in err


async def test_cli_through_https_proxy_with_a_relative_ca_file(tmp_path: Path) -> None:
    server, ca_file = _server(tmp_path)
    numbers = write_numbers(tmp_path / "n.txt", 300)
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), ssl_context=server) as sb, \
            ConnectProxy() as proxy:
        config = write_config(tmp_path / "c.toml", sb.url, ca_file=ca_file.name)  # next to the config
        code, out, err = await _send(config, numbers, {"HTTPS_PROXY": proxy.url})
        received = sb.state.plans["p1"].stats.recipients
    assert (code, received) == (0, 300), (out, err)
    assert proxy.tunnels == [sb.url.removeprefix("https://")] * len(proxy.tunnels) != []


async def test_cli_no_proxy_goes_direct(tmp_path: Path) -> None:
    server, ca_file = _server(tmp_path)
    numbers = write_numbers(tmp_path / "n.txt", 20)
    async with running(SandboxConfig(plans={"p1": SandboxPlan()}), ssl_context=server) as sb, \
            ConnectProxy() as proxy:
        config = write_config(tmp_path / "c.toml", sb.url, ca_file=str(ca_file))
        code, out, err = await _send(config, numbers, {"HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"})
        received = sb.state.plans["p1"].stats.recipients
    assert (code, received, proxy.tunnels) == (0, 20, []), (out, err)


async def test_cli_missing_proxy_credentials_variable_is_one_line_exit_2(tmp_path: Path) -> None:
    _, ca_file = _server(tmp_path)
    numbers = write_numbers(tmp_path / "n.txt", 5)
    config = write_config(tmp_path / "c.toml", "https://127.0.0.1:9", ca_file=str(ca_file),
                          proxy="http://127.0.0.1:9", proxy_auth_env="CORP_PROXY_AUTH")
    code, out, err = await _send(config, numbers, {})
    assert code == 2, (out, err)
    assert err.strip().count("\n") == 0 and "CORP_PROXY_AUTH" in err and "Traceback" not in err


async def test_cli_a_ca_file_that_is_not_pem_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    numbers = write_numbers(tmp_path / "n.txt", 5)
    config = write_config(tmp_path / "c.toml", "https://127.0.0.1:9", ca_file=str(tmp_path / "bad.pem"))
    code, out, err = await _send(config, numbers, {})
    assert code == 2, (out, err)
    assert err.strip().count("\n") == 0 and "plans.a.ca_file" in err and "PEM" in err


@pytest.mark.parametrize(("overrides", "message"), [
    ({"proxy": "proxy.corp:3128"}, "plans.a.proxy: not an http://host:port proxy URL"),
    ({"proxy": "https://proxy.corp:3128"}, "plans.a.proxy: not an http://host:port proxy URL"),
    ({"proxy": "socks5://proxy.corp:1080"}, "plans.a.proxy: not an http://host:port proxy URL"),
    ({"proxy": "http://proxy.corp:99999"}, "plans.a.proxy: not an http://host:port proxy URL"),
    ({"proxy": "http://proxy.corp:3128/path"}, "plans.a.proxy: not an http://host:port proxy URL"),
    ({"proxy": "http://ann:pw@proxy.corp:3128"}, "credentials do not belong in the config file"),
    ({"proxy": 3128}, "plans.a.proxy must be str"),
    ({"proxy_auth_env": "CORP_PROXY_AUTH"}, "plans.a.proxy_auth_env is set but plans.a.proxy is not"),
    ({"ca_file": "no-such-ca.pem"}, "plans.a.ca_file: no such file: 'no-such-ca.pem'"),
])
def test_bad_network_keys_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              overrides: dict[str, object], message: str) -> None:
    config = write_config(tmp_path / "c.toml", "https://127.0.0.1:9", **overrides)
    code = main(["send", "-c", str(config), "--plan", "a", "-r", str(write_numbers(tmp_path / "n.txt", 3)),
                 "-m", "x", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and str(config) in err
    assert "pw@" not in err or "credentials" in err  # the message names the rule, not a secret


def test_no_key_turns_verification_off() -> None:
    for key in ("verify", "verify_ssl", "insecure", "ssl", "tls_verify"):
        with pytest.raises(ConfigError, match=f"unknown key plans.a.{key}"):
            make_config({"a": plan_table("https://127.0.0.1:9", **{key: False})})


def test_ca_file_relative_to_the_config_file(tmp_path: Path) -> None:
    from bulksend.providers import load_config

    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("x")
    config = write_config(tmp_path / "c.toml", "https://127.0.0.1:9", ca_file="certs/ca.pem")
    assert load_config(config).plan("a").network.ca_file == str((tmp_path / "certs" / "ca.pem").resolve())
