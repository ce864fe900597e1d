"""The only place bulksend talks HTTP to a provider.

A ``Transport`` takes an ``HttpRequest`` a provider codec built and returns
the ``HttpResponse``; nothing else in bulksend sends a request. Two exist:

- ``HttpTransport``: the real one, over the one ``aiohttp.ClientSession`` the
  engine owns (``open_session``; one ``USER_AGENT``), with a plan's ``Route``
  (its TLS trust and proxy, ``bulksend.engine.network``) bound in;
- ``MockTransport``: a plain function ``request -> response`` (as httpx's
  ``MockTransport``), so engine and campaign logic can be tested without a
  server.

Failures are sorted by what they say about the request: a connection that
could not be opened means nothing was sent (``Unreachable``); a
connection that broke or timed out after the request left may have been
accepted (``AmbiguousOutcome``). A certificate that cannot be verified, or
a proxy that refuses the tunnel (403/407), will not pass by retrying: the
campaign is refused (``CampaignRefused``), nothing having been sent.
Messages name the host only: request headers (and so tokens) and proxy
credentials never reach an exception.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from bulksend.engine.network import Route
from bulksend.errors import AmbiguousOutcome, CampaignRefused, Unreachable
from bulksend.models import HttpRequest, HttpResponse

#: what every request bulksend sends says it is
USER_AGENT = "bulksend/0.1"


class Transport(Protocol):
    """Sends one request; raises ``Unreachable`` or ``AmbiguousOutcome`` when no answer came."""

    def send(self, request: HttpRequest, timeout: aiohttp.ClientTimeout) -> Awaitable[HttpResponse]: ...


def open_session(
    connections: int = 100, user_agent: str = USER_AGENT, *, ssl_context: ssl.SSLContext | None = None,
    trace_configs: list[aiohttp.TraceConfig] | None = None,
) -> aiohttp.ClientSession:
    """The session an engine (or a load test) owns (call inside a running loop).

    ``ssl_context`` verifies certificates unless a request's route says
    another (default: Python's default context; verification is never off).
    Proxies are per request (``Route``). Loopback sandboxes speak plain http.
    """
    connector = aiohttp.TCPConnector(limit=connections, ssl=ssl_context or ssl.create_default_context())
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": user_agent},
                                 trace_configs=trace_configs)


class HttpTransport:
    """Requests over an ``aiohttp.ClientSession`` the caller owns.

    ``send`` is ``perform`` with the session (and the plan's ``route``:
    TLS context, proxy) bound (a partial, not a method that awaits it): a
    send costs no extra coroutine on the hot path.
    """

    __slots__ = ("send", "session")

    def __init__(self, session: aiohttp.ClientSession, route: Route | None = None) -> None:
        self.session = session
        self.send: Callable[[HttpRequest, aiohttp.ClientTimeout], Awaitable[HttpResponse]] = \
            partial(perform, session, **(route.request_kwargs() if route else {}))


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
    session: aiohttp.ClientSession, request: HttpRequest, timeout: aiohttp.ClientTimeout,
    **route: Any,
) -> HttpResponse:
    """One request; ``route`` is ``Route.request_kwargs()`` (TLS context, proxy), if any."""
    try:
        async with session.request(
            request.method, request.url, headers=request.headers, data=request.body or None,
            timeout=timeout, allow_redirects=False, **route,
        ) as resp:
            body = await resp.read()
            return HttpResponse(resp.status, resp.headers, body)
    except aiohttp.ClientConnectorCertificateError as exc:
        raise CampaignRefused(_certificate_problem(request, exc), code="tls_certificate") from None
    except aiohttp.ClientConnectorSSLError as exc:
        raise CampaignRefused(f"TLS handshake with {_host(request)} failed: {_ssl_reason(exc.os_error)}; "
                              "nothing was sent", code="tls") from None
    except aiohttp.ClientHttpProxyError as exc:
        if exc.status in (403, 407):
            raise CampaignRefused(
                f"the proxy refused the tunnel to {_host(request)}: {exc.status} {exc.message} "
                "(check the plan's proxy and proxy_auth_env); nothing was sent", code="proxy") from None
        raise Unreachable(f"cannot connect to {_host(request)}: the proxy answered {exc.status} "
                          f"{exc.message}") from None
    except aiohttp.ClientProxyConnectionError as exc:
        raise Unreachable(f"cannot connect to the proxy for {_host(request)}: "
                          f"{exc.strerror or type(exc).__name__}") from None
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


def _certificate_problem(request: HttpRequest, exc: aiohttp.ClientConnectorCertificateError) -> str:
    error = exc.certificate_error
    why = getattr(error, "verify_message", None) or _ssl_reason(error)
    return (f"cannot verify the TLS certificate of {_host(request)}: {why}; if it is signed by a "
            "private CA, name its PEM file in the plan's ca_file (or SSL_CERT_FILE); nothing was sent")


def _ssl_reason(error: BaseException) -> str:
    return str(getattr(error, "reason", None) or error or type(error).__name__)


def _host(request: HttpRequest) -> str:
    """The host a request went to, for a message (worked out only when one is needed)."""
    return urlsplit(request.url).netloc
