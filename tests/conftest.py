"""Shared fixtures: a real sandbox on 127.0.0.1 and configs pointing at it.
Plain helpers (configs, number lists, a sandbox process) are in ``tests/helpers.py``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bulksend.sandbox import RunningSandbox, SandboxConfig, running
from tests.helpers import SandboxProcess


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


@pytest.fixture(scope="module")
def sandbox_proc() -> Iterator[SandboxProcess]:
    """One ``bulksend sandbox --open-plans`` process shared by a module's tests (corpus tests)."""
    proc = SandboxProcess(["--open-plans"])
    try:
        yield proc
    finally:
        proc.stop()
