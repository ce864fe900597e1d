"""``bulksend listen`` under slow and too many clients: real sockets on 127.0.0.1.

Bounded: a few hundred sockets at most, timeouts of a fraction of a second.
The waits below are upper bounds for liveness (a connection that is never
closed fails the test), not speed assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulksend.delivery import Sent, SqliteDeliveryStore
from bulksend.serving import ServeLimits
from bulksend.webhooks import RunningListener, build_listener, listening
from tests.webhooks.test_webhooks import CONFIG, ENV, recipient_report

PARTIAL_HEAD = b"POST /callbacks/xms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@contextlib.asynccontextmanager
async def served(tmp_path: Path, limits: ServeLimits) -> AsyncIterator[RunningListener]:
    async with SqliteDeliveryStore(tmp_path / "d.db") as store:
        await store.record_sent([Sent("camp", "46700000001", "B1", time.time() - 5)])
        app = build_listener(CONFIG, store, env=ENV, resolve_wait=0.0, limits=limits)
        async with listening(app) as lst:
            yield lst


def port_of(lst: RunningListener) -> int:
    return int(lst.url.rsplit(":", 1)[1])


async def callback(lst: RunningListener) -> int:
    """A real delivery report on a fresh connection; its status, or 0 when the connection was refused."""
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(lst.callback_url("xms"), data=recipient_report(),
                              headers={"Content-Type": "application/json"}) as r:
                return r.status
    except aiohttp.ClientError:
        return 0


async def open_slow(port: int, n: int, head: bytes = PARTIAL_HEAD) -> list[tuple[asyncio.StreamReader,
                                                                               asyncio.StreamWriter]]:
    """``n`` connections that each send part of a request head and stall."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
    for _reader, writer in conns:
        writer.write(head)
    await asyncio.gather(*(w.drain() for _r, w in conns))
    return conns


RESET = b"<connection reset>"


async def answer_of(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything the server sends until it closes (fails if it does not close within ``within``).

    A server that closes a socket with unread bytes in it makes the kernel reset
    the connection, which may swallow an answer already sent: that is ``RESET``.
    """
    try:
        return await asyncio.wait_for(reader.read(), within)
    except ConnectionResetError:
        return RESET


def close_all(conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _reader, writer in conns:
        writer.close()


async def test_slow_loris_is_cut_off_and_real_callbacks_still_served(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="bulksend.listen")
    limits = ServeLimits(max_connections=400, header_timeout=0.4, body_timeout=0.4, idle_timeout=1.0)
    async with served(tmp_path, limits) as lst:
        slow = await open_slow(port_of(lst), 200)
        assert await callback(lst) == 200  # served while 200 slow heads are pending
        answers = await asyncio.gather(*(answer_of(r) for r, _w in slow))
        close_all(slow)
        assert await callback(lst) == 200
        stored = lst.stats.stored_reports
        stats = lst.connections
    assert stored == 2
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers)
    assert stats.header_timeouts == 200
    logged = [r.getMessage() for r in caplog.records]
    assert any("408" in m and "request head" in m for m in logged)
    assert len(logged) < 20  # a flood of refusals is summarised, not logged line by line


async def test_trickling_bytes_does_not_extend_the_head_deadline(tmp_path: Path) -> None:
    limits = ServeLimits(max_connections=10, header_timeout=0.3, body_timeout=0.3, idle_timeout=1.0)
    async with served(tmp_path, limits) as lst:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(lst))

        async def trickle() -> int:
            sent = 0
            for byte in PARTIAL_HEAD * 10:  # would take ~9 s at this pace
                if writer.is_closing() or reader.at_eof():
                    break
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:
                    break
                sent += 1
                await asyncio.sleep(0.01)
            return sent

        task = asyncio.create_task(trickle())
        answer = await answer_of(reader, within=5.0)
        task.cancel()
        writer.close()
        timeouts = lst.connections.header_timeouts
    assert timeouts == 1
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == RESET  # closed long before the trickle ends


async def test_a_body_that_never_arrives_is_408(tmp_path: Path) -> None:
    limits = ServeLimits(max_connections=10, header_timeout=1.0, body_timeout=0.3, idle_timeout=1.0)
    async with served(tmp_path, limits) as lst:
        (reader, writer), = await open_slow(port_of(lst), 1, PARTIAL_HEAD + b"Content-Length: 500\r\n\r\n{\"type\"")
        answer = await answer_of(reader)
        writer.close()
        assert await callback(lst) == 200
        stats = lst.stats
    assert answer.startswith(b"HTTP/1.1 408 ") and stats.body_timeouts == 1


async def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    limits = ServeLimits(max_connections=10, header_timeout=1.0, body_timeout=1.0, idle_timeout=0.3)
    async with served(tmp_path, limits) as lst:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(lst))
        body = recipient_report()
        writer.write(PARTIAL_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        rest = await answer_of(reader)  # the JSON answer, then the server closes the idle connection
        writer.close()
        stats = lst.connections
    assert b"stored" in rest and stats.idle_closed == 1 and stats.header_timeouts == 0


async def test_connections_over_the_cap_are_refused_until_one_frees(tmp_path: Path) -> None:
    limits = ServeLimits(max_connections=20, header_timeout=30.0, body_timeout=30.0, idle_timeout=30.0)
    async with served(tmp_path, limits) as lst:
        port = port_of(lst)
        held = await open_slow(port, 20)
        await _until(lambda: lst.connections.open == 20)
        extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", port)
        refused = await answer_of(extra_reader)
        extra_writer.close()
        assert await callback(lst) in (0, 503)  # over the cap: refused, not queued
        close_all(held[:5])
        await _until(lambda: lst.connections.open <= 15)
        assert await callback(lst) == 200
        close_all(held[5:])
        stats = lst.connections
    assert refused.startswith(b"HTTP/1.1 503 ") and b"Retry-After" in refused
    assert stats.over_capacity >= 2 and stats.peak == 20


async def _until(condition: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("kw", [
    {"max_connections": 0}, {"header_timeout": 0}, {"body_timeout": float("nan")}, {"idle_timeout": -1},
    {"header_timeout": float("inf")},
])
def test_limits_refuse_nonsense(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ServeLimits(**kw)


def test_the_cap_never_exceeds_the_open_file_limit() -> None:
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = ServeLimits(max_connections=10**9).effective_max_connections()
    assert cap < 10**9 and (soft == resource.RLIM_INFINITY or cap <= soft)
    assert ServeLimits(max_connections=5).effective_max_connections() == 5
