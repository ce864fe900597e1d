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


@pytest.fixture
def sandbox() -> Callable[[SandboxConfig], contextlib.AbstractAsyncContextManager[RunningSandbox]]:
    """``async with sandbox(SandboxConfig(...)) as sb:`` — a real server on a free port."""

    @contextlib.asynccontextmanager
    async def start(config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
        async with running(config, port=0) as sb:
            yield sb

    return start


def write_numbers(path: Path, count: int, start: int = 46_700_000_000, header: str | None = None) -> Path:
    with path.open("w", encoding="utf-8") as f:
        if header:
            f.write(header + "\n")
        for i in range(count):
            f.write(f"{start + i}\n")
    return path
