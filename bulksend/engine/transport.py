"""The only place bulksend talks HTTP to a provider.

A ``Transport`` takes an ``HttpRequest`` a provider codec built and returns
the ``HttpResponse``; nothing else in bulksend sends a request. Two exist:

- ``HttpTransport``: the real one, over the one ``aiohttp.ClientSession`` the
  engine owns (``open_session``; one ``USER_AGENT``);
- ``MockTransport``: a plain function ``request -> response`` (as httpx's
  ``MockTransport``), so engine and campaign logic can be tested without a
  server.

Failures are sorted by what they say about the request: a connection that
could not be opened means nothing was sent (``Unreachable``); a
connection that broke or timed out after the request left may have been
accepted (``AmbiguousOutcome``). Messages name the host only: request
headers (and so tokens) never reach an exception.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from bulksend.errors import AmbiguousOutcome, Unreachable
from bulksend.models import HttpRequest, HttpResponse

#: what every request bulksend sends says it is
USER_AGENT = "bulksend/0.1"


class Transport(Protocol):
    """Sends one request; raises ``Unreachable`` or ``AmbiguousOutcome`` when no answer came."""

    def send(self, request: HttpRequest, timeout: aiohttp.ClientTimeout) -> Awaitable[HttpResponse]: ...


def open_session(connections: int = 100, user_agent: str = USER_AGENT) -> aiohttp.ClientSession:
    """The session an engine owns (call inside a running loop)."""
    # Verification stays on (the default context); loopback sandboxes speak plain http.
    connector = aiohttp.TCPConnector(limit=connections, ssl=ssl.create_default_context())
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": user_agent})


class HttpTransport:
    """Requests over an ``aiohttp.ClientSession`` the caller owns.

    ``send`` is ``perform`` with the session bound (a partial, not a method
    that awaits it): a send costs no extra coroutine on the hot path.
    """

    __slots__ = ("send", "session")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.send: Callable[[HttpRequest, aiohttp.ClientTimeout], Awaitable[HttpResponse]] = \
            partial(perform, session)


#: a test's stand-in for a provider: answers a request (or raises what the network would)
Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


class MockTransport:
    """Answers every request with ``handler(request)``; no socket is opened.

    The handler may return a response, an awaitable of one (to hold a request
    in flight), or raise ``Unreachable`` / ``AmbiguousOutcome`` to play a
    connection that never opened or broke after the request left. A handler
    raising ``asyncio.TimeoutError`` is a timeout, as on the wire. Every
    request is kept in ``requests``, in the order sent.
    """

    __slots__ = ("handler", "requests")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest, timeout: aiohttp.ClientTimeout) -> HttpResponse:
        self.requests.append(request)
        try:
            answer = self.handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        except asyncio.TimeoutError:
            raise AmbiguousOutcome(f"no answer from {_host(request)} in time", code="timeout") from None
        return answer


async def perform(
    session: aiohttp.ClientSession, request: HttpRequest, timeout: aiohttp.ClientTimeout
) -> HttpResponse:
    try:
        async with session.request(
            request.method, request.url, headers=request.headers, data=request.body or None,
            timeout=timeout, allow_redirects=False,
        ) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, resp.headers, body)
    except aiohttp.ClientConnectorError as exc:
        raise Unreachable(f"cannot connect to {_host(request)}: {exc.strerror or type(exc).__name__}") from None
    except asyncio.TimeoutError:
        raise AmbiguousOutcome(f"no answer from {_host(request)} in time", code="timeout") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as exc:
        raise AmbiguousOutcome(f"connection to {_host(request)} broke: {type(exc).__name__}",
                               code="disconnected") from None
    except aiohttp.ClientError as exc:
        raise AmbiguousOutcome(f"HTTP error talking to {_host(request)}: {type(exc).__name__}",
                               code="http_error") from None


def _host(request: HttpRequest) -> str:
    """The host a request went to, for a message (worked out only when one is needed)."""
    return urlsplit(request.url).netloc
