"""Calls with no side effect worth fearing: lookups, cancels, delivery polls.

A send is performed by ``plan.BatchSender`` (its failures decide whether a
batch is sent again). Everything else bulksend asks a provider goes through
``ProviderCalls``: the provider's codec builds the request, the engine's
``Transport`` performs it, and the plan's retry policy repeats it. Asking
twice changes nothing at the provider, so a dropped connection here is a
plain ``TransientError``, not an ambiguous outcome.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bulksend.config import PlanConfig
from bulksend.engine.retry import Sleep, retrying
from bulksend.engine.transport import Transport
from bulksend.errors import AmbiguousOutcome, TransientError
from bulksend.models import Batch, HttpRequest, HttpResponse, Outcome
from bulksend.providers.base import LookupWindow, Provider


class ProviderCalls:
    """Performs requests a codec built, with the plan's retry policy."""

    def __init__(self, provider: Provider, transport: Transport, plan: PlanConfig,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.provider = provider
        self.transport = transport
        self.plan = plan
        self.sleep = sleep
        self.timeout = aiohttp.ClientTimeout(total=plan.timeout)

    async def once(self, request: HttpRequest) -> HttpResponse:
        """One try; a broken connection is transient (nothing to fear from asking again)."""
        try:
            return await self.transport.send(request, self.timeout)
        except AmbiguousOutcome as exc:
            raise TransientError(str(exc)) from None

    async def lookup(self, batch: Batch, window: LookupWindow | None = None) -> Outcome | None:
        """The provider's outcome for ``batch``, or None if it does not have it
        (asked over ``window``, when given: see ``Provider.lookup_request``)."""
        request = self.provider.lookup_request(batch, window)
        assert request is not None
        async for attempt in retrying(self.plan.retry, sleep=self.sleep):
            with attempt:
                return self.provider.parse_lookup(batch, await self.once(request))
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def cancel(self, provider_id: str) -> tuple[bool, str]:
        """``(done, why-not)`` for cancelling one accepted batch at the provider."""
        request = self.provider.cancel_request(provider_id)
        if request is None:
            return False, f"{self.provider.name} cannot cancel a batch"
        async for attempt in retrying(self.plan.retry, sleep=self.sleep):
            with attempt:
                response = await self.once(request)
                if response.status >= 500 or response.status == 429:
                    raise TransientError(f"cancel answered {response.status}", status=response.status)
                if 200 <= response.status < 300:
                    return True, ""
                return False, f"cancel answered {response.status}"
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
