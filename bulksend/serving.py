"""Serving an aiohttp.web app inside the running event loop, optionally guarded.

aiohttp's server closes idle keep-alive connections (``keepalive_timeout``)
and caps line and header sizes, but it holds any number of connections and
has no deadline for a request head to arrive: 21,000 slow connections once
exhausted ``bulksend listen``'s file descriptors. ``ServeLimits`` adds what is
missing, below aiohttp, at the asyncio protocol level.

Theory of operation
-------------------
``serve_app(app, limits=...)`` hands the event loop a protocol factory of its
own (``_Pool``). Each accepted connection gets a ``_Guarded`` protocol that
either refuses it at once (over ``max_connections``: a ``503`` with
``Connection: close``, which Sinch retries) or wraps aiohttp's own
``RequestHandler`` and forwards every transport event to it. One timer per
connection enforces, by state:

- *head*: from the connection's first moment, and from the first byte after
  a response, a complete request head must arrive within ``header_timeout``
  (trickling bytes does not extend it) — else ``408`` and close;
- *busy*: a request is being handled; the app reads the body within
  ``body_timeout`` itself (``read_body``), so no timer runs;
- *idle*: after a response, a keep-alive connection that sends nothing for
  ``idle_timeout`` is closed.

A small middleware moves a connection from *head* to *busy* and back to
*idle*; it finds the connection by ``request.transport``. Refusals and
timeouts are counted in ``ConnectionStats`` and logged at most once a second
per reason (a flood must not become a flood of log lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import resource
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

#: file descriptors kept for everything but client connections (database, logs, outbound)
RESERVED_FDS = 64

_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
            b"Connection: close\r\nRetry-After: 1\r\n\r\n")
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ServeLimits:
    """How many connections a server holds and how long it waits for each."""

    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 15.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_connections, int) or self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections!r}")
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of seconds above 0, got {value!r}")

    def effective_max_connections(self) -> int:
        """``max_connections``, but never more than the open-file limit leaves room for."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY or soft <= 2 * RESERVED_FDS:
            return self.max_connections
        return max(1, min(self.max_connections, soft - RESERVED_FDS))


@dataclass(slots=True)
class ConnectionStats:
    open: int = 0
    peak: int = 0
    over_capacity: int = 0
    header_timeouts: int = 0
    idle_closed: int = 0


_HEAD, _BUSY, _IDLE = "head", "busy", "idle"


class _Guarded(asyncio.Protocol):
    """One connection: admitted or refused, then timed by state (module docstring)."""

    __slots__ = ("_pool", "_inner", "_transport", "_timer", "_state", "_requests")

    def __init__(self, pool: _Pool) -> None:
        self._pool = pool
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._state = _HEAD
        self._requests = 0

    # -- transport events -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._transport = transport
        if not self._pool.admit(self, transport):
            transport.write(_REFUSED)
            transport.close()
            return
        self._arm(self._pool.limits.header_timeout)
        self._inner = self._pool.server()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._state == _IDLE:
            self._state = _HEAD
            self._arm(self._pool.limits.header_timeout)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._inner is not None:
            self._pool.release(self, self._transport)
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    # -- request events (from the middleware) -----------------------------
    def request_started(self) -> None:
        self._requests += 1
        self._state = _BUSY
        self._disarm()

    def request_finished(self) -> None:
        self._requests -= 1
        if self._requests == 0 and self._inner is not None:
            self._state = _IDLE
            self._arm(self._pool.limits.idle_timeout)

    # -- the timer --------------------------------------------------------
    def _arm(self, delay: float) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._state == _HEAD:
            self._pool.note("header_timeouts", "no complete request head in time", 408)
            transport.write(_TIMED_OUT)
            transport.close()
        elif self._state == _IDLE:
            self._pool.stats.idle_closed += 1
            transport.close()


class _Pool:
    """The protocol factory: counts connections and maps transports to them."""

    __slots__ = ("limits", "server", "stats", "log", "cap", "_by_transport", "_last_logged", "_unlogged")

    def __init__(self, limits: ServeLimits, server: Callable[[], asyncio.Protocol],
                 stats: ConnectionStats, log: logging.Logger) -> None:
        self.limits = limits
        self.server = server
        self.stats = stats
        self.log = log
        self.cap = limits.effective_max_connections()
        self._by_transport: dict[asyncio.BaseTransport, _Guarded] = {}
        self._last_logged: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def __call__(self) -> _Guarded:
        return _Guarded(self)

    def admit(self, guard: _Guarded, transport: asyncio.BaseTransport) -> bool:
        if len(self._by_transport) >= self.cap:
            self.note("over_capacity", f"over the cap of {self.cap} connections", 503)
            return False
        self._by_transport[transport] = guard
        self.stats.open = len(self._by_transport)
        self.stats.peak = max(self.stats.peak, self.stats.open)
        return True

    def release(self, guard: _Guarded, transport: asyncio.BaseTransport | None) -> None:
        if transport is not None and self._by_transport.get(transport) is guard:
            del self._by_transport[transport]
        self.stats.open = len(self._by_transport)

    def guard_of(self, transport: asyncio.BaseTransport | None) -> _Guarded | None:
        return self._by_transport.get(transport) if transport is not None else None

    def note(self, counter: str, reason: str, status: int) -> None:
        """Count a refused connection; log it, at most one line a second per reason."""
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        now = asyncio.get_running_loop().time()
        waiting = self._unlogged.get(counter, 0)
        if now - self._last_logged.get(counter, -math.inf) < 1.0:
            self._unlogged[counter] = waiting + 1
            return
        self._last_logged[counter], self._unlogged[counter] = now, 0
        more = f" (and {waiting} more since the last line)" if waiting else ""
        self.log.warning("connection refused (%d): %s%s", status, reason, more)

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        guard = self.guard_of(request.transport)
        if guard is None:
            return await handler(request)
        guard.request_started()
        try:
            return await handler(request)
        finally:
            guard.request_finished()


class _OneLineLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, minus tracebacks: a request it cannot parse is the caller's
    fault, so it is one line naming the error class (never the bytes that caused it)."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        status = _client_error_status(exc_info)
        if status is None:  # not the caller's fault: keep the traceback
            self.logger.error(msg, *args, exc_info=exc_info, **kw)
        else:
            self.logger.warning("request refused (%d): %s", status, type(exc_info).__name__)


def _client_error_status(exc: Any) -> int | None:
    """The 4xx an exception of aiohttp's parser stands for (itself or its cause), else None."""
    for candidate in (exc, getattr(exc, "__cause__", None)):
        code = getattr(candidate, "code", None)
        if isinstance(code, int) and 400 <= code < 500:
            return code
    return None


async def read_body(request: web.BaseRequest, timeout: float) -> bytes:
    """The request body, or ``asyncio.TimeoutError`` when it does not arrive in ``timeout`` seconds."""
    return await asyncio.wait_for(request.read(), timeout)


@contextlib.asynccontextmanager
async def serve_app(
    app: web.Application, port: int = 0, host: str = "127.0.0.1", *,
    limits: ServeLimits | None = None, stats: ConnectionStats | None = None, log: logging.Logger | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. ``port=0`` picks a free one.

    With ``ssl_context`` it speaks https (tests of TLS; the URL says so).

    With ``limits``, connections are capped and timed (module docstring); ``stats``
    counts what the limits refused and ``log`` says so (default ``bulksend.serving``).
    """
    pool: _Pool | None = None
    kwargs: dict[str, Any] = {}
    if limits is not None:
        log = log or logging.getLogger("bulksend.serving")
        kwargs = {"lingering_time": limits.body_timeout, "logger": _OneLineLogger(log)}
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **kwargs)
    if limits is not None:
        pool = _Pool(limits, lambda: _server_of(runner)(), stats or ConnectionStats(),
                     log or logging.getLogger("bulksend.serving"))
        app.middlewares.append(pool.middleware)
    await runner.setup()
    server: asyncio.AbstractServer | None = None
    try:
        if pool is None:
            site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
            await site.start()
            bound = runner.addresses[0][1]
        else:
            loop = asyncio.get_running_loop()
            server = await loop.create_server(pool, host, port, reuse_address=True, ssl=ssl_context)
            bound = server.sockets[0].getsockname()[1]
        yield f"{'https' if ssl_context else 'http'}://{host}:{bound}"
    finally:
        if server is not None:
            server.close()
        await runner.cleanup()


def _server_of(runner: web.AppRunner) -> Callable[[], asyncio.Protocol]:
    server = runner.server
    assert server is not None, "runner.setup() comes first"
    return server
