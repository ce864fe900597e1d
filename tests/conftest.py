"""Shared fixtures: a real sandbox on 127.0.0.1 and configs pointing at it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bulksend.config import Config, parse_config
from bulksend.sandbox import RunningSandbox, SandboxConfig, running


def plan_table(url: str, **overrides: Any) -> dict[str, Any]:
    """A sinch_xms plan table aimed at a sandbox, fast retries for tests."""
    table: dict[str, Any] = {
        "provider": "sinch_xms", "service_plan_id": "p1", "base_url": url,
        "rate": 100_000, "burst": 1000, "max_batch": 100, "concurrency": 4,
        "retry": {"initial": 0.01, "max": 0.2, "jitter": 0.01, "attempts": 10},
    }
    table.update(overrides)
    return table


def make_config(plans: dict[str, dict[str, Any]]) -> Config:
    return parse_config({"plans": plans}, "<test>")


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own empty directory, so a default workspace
    (``.bulksend/journal.db``) never leaks between tests or into the repo."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def sandbox() -> Callable[[SandboxConfig], contextlib.AbstractAsyncContextManager[RunningSandbox]]:
    """``async with sandbox(SandboxConfig(...)) as sb:`` — a real server on a free port."""

    @contextlib.asynccontextmanager
    async def start(config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
        async with running(config, port=0) as sb:
            yield sb

    return start


def free_port() -> int:
    """A loopback port nobody listens on (for a provider that is down)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_numbers(path: Path, count: int, start: int = 46_700_000_000, header: str | None = None) -> Path:
    with path.open("w", encoding="utf-8") as f:
        if header:
            f.write(header + "\n")
        for i in range(count):
            f.write(f"{start + i}\n")
    return path


class SandboxProcess:
    """``bulksend sandbox`` in a child process, for tests of the CLI."""

    def __init__(self, args: list[str]) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bulksend", "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.split("listening on ")[1].split()[0]

    def stats(self) -> dict[str, Any]:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url + "/_sandbox/stats", timeout=5) as resp:
            data: dict[str, Any] = json.load(resp)
            return data

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


@pytest.fixture
def sandbox_process() -> Any:
    """Start with ``sandbox_process([...flags])``; stopped after the test."""
    started: list[SandboxProcess] = []

    def start(args: list[str] | None = None) -> SandboxProcess:
        proc = SandboxProcess(args or ["--open-plans"])
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def write_config(path: Path, url: str, **overrides: Any) -> Path:
    """A TOML config with one sinch_xms plan named ``a`` aimed at ``url``."""
    table = plan_table(url, **overrides)
    retry = table.pop("retry")
    lines = ["[plans.a]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
    lines += ["[plans.a.retry]"] + [f"{k} = {_toml(v)}" for k, v in retry.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
