"""The only place bulksend talks HTTP to a provider.

Failures are sorted by what they say about the request: a connection that
could not be opened means nothing was sent (``Unreachable``); a
connection that broke or timed out after the request left may have been
accepted (``AmbiguousOutcome``). Messages name the host only: request
headers (and so tokens) never reach an exception.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

from bulksend.errors import AmbiguousOutcome, Unreachable
from bulksend.models import HttpRequest, HttpResponse


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
