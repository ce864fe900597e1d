"""Helpers shared by the tests: configs aimed at a sandbox, number lists, a
sandbox in a child process. Fixtures live in ``conftest.py``; these are
imported from ``tests.helpers``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bulksend.config import Config
from bulksend.providers import parse_config

if TYPE_CHECKING:
    from bulksend.engine import CampaignRun
    from bulksend.campaigns import JournalLedger
    from bulksend.journal import Journal
    from bulksend.journal.records import CampaignRecord
    from bulksend.journal.staging import Stager
    from bulksend.models import Batch


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


@contextmanager
def process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "bulksend", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on " in line, proc.stderr.read() if proc.stderr else line
        yield proc, line.split("listening on ")[1].split()[0].split("/callbacks")[0]
    finally:
        proc.terminate()
        proc.wait(10)


async def stage_all(journal: Journal, campaign: CampaignRecord, chunk: int = 7,
                    steps: int | None = None) -> Stager:
    """Stage a campaign's list into the journal, ``steps`` blocks at most."""
    from bulksend.core.estimate import BodyMeter
    from bulksend.journal.staging import Stager

    stager = Stager(campaign, BodyMeter(), chunk=chunk, block=3)
    n = 0
    while not stager.done and (steps is None or n < steps):
        await journal.call(stager.step, write=True)
        n += 1
    return stager


def fake_run(size: int) -> Any:
    return SimpleNamespace(batch_size=size, stopping=False)


async def batches_of(ledger: JournalLedger, size: int) -> list[Batch]:
    return [b async for b in ledger.batches(fake_run(size))]


class ConnectProxy:
    """A forward proxy on 127.0.0.1 that only tunnels (``CONNECT host:port``), for tests.

    It opens the tunnel to loopback targets only, pipes bytes both ways and
    records each tunnel's target in ``tunnels``. With ``auth`` (a
    ``Proxy-Authorization`` header value) any other value is answered 407.
    At most ``max_tunnels`` are opened; every read is bounded by ``timeout``.
    """

    def __init__(self, auth: str | None = None, max_tunnels: int = 64, timeout: float = 10.0) -> None:
        self.auth = auth
        self.max_tunnels = max_tunnels
        self.timeout = timeout
        self.tunnels: list[str] = []
        self.refused: list[str] = []
        self.url = ""
        self._server: Any = None
        self._tasks: set[Any] = set()

    async def __aenter__(self) -> ConnectProxy:
        import asyncio

        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        import asyncio

        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _client(self, reader: Any, writer: Any) -> None:
        import asyncio

        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
                self.refused.append(lines[0])
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            if self.auth is not None and headers.get("proxy-authorization") != self.auth:
                self.refused.append(lines[0])
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                return
            if len(self.tunnels) >= self.max_tunnels:
                writer.write(b"HTTP/1.1 503 Too Many Tunnels\r\nContent-Length: 0\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), self.timeout)
            self.tunnels.append(target)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: Any, writer: Any) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


_KEEP: set[asyncio.Future[None]] = set()


def stop_after(accepted: int) -> Any:
    """An ``on_start`` that stops the run (like Ctrl-C) once ``accepted`` recipients were accepted."""
    def start(run: CampaignRun) -> None:
        async def watch() -> None:
            while run.stats.sent < accepted and not run.done:
                await asyncio.sleep(0.005)
            run.stop("stopped by the test")
        task = asyncio.ensure_future(watch())
        _KEEP.add(task)
        task.add_done_callback(_KEEP.discard)
    return start
